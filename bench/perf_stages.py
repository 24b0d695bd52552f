#!/usr/bin/env python3
"""Where the hub's CPU goes, by stage of a message's path: reads a `perf record --call-graph
dwarf` of `hearth serve` (see `./scripts/bench profile`) and puts each sample in the first stage
its stack shows, the most specific first (a sample in the gate, called from rmqtt's hooks, is the
gate's); a sample in none of them is waiting for work if its innermost frames say so (epoll, a
parked thread), else the task scheduler's or another's. Prints each stage's share of the samples,
and the allocator's share with its callers."""

import argparse
import collections
import re
import subprocess

# In order: the first whose pattern a sample's stack matches takes the sample.
STAGES = [
    ("the ledger (recorder, SQLite)", r"hearth::recorder::|hearth_store::"),
    ("Hearth's gate", r"hearth::gate::|hearth_core::"),
    ("rmqtt's hook calls around the gate", r"DefaultHookManager|hearth_broker::hooks"),
    ("routing (topic tree, fan-out)", r"Router>::matches|Shared>::forwards|SessionState::forwards|DefaultShared"),
    ("writing to sockets", r"MqttStream<Io>::send|poll_write_buf|rmqtt_net::stream::send|rmqtt_net::stream::flush_within|writev"),
    ("reading and decoding", r"poll_next_packet|Sink<Io>::recv|Decoder>::decode|__libc_recv|PollEvented<E>::poll_read"),
    ("rmqtt's own session work", r"rmqtt::"),
    ("the web server", r"axum::|hyper::"),
]
# A sample whose innermost frames wait for work (every task's stack also holds the runtime's
# frames, so only the innermost say it is waiting).
WAITING = re.compile(r"epoll_wait|Driver::park|park_internal|park_driver|park_timeout|Parker::park|futex_wait")
INNERMOST = 8
ALLOCATOR = re.compile(r"malloc|_int_free|cfree|unlink_chunk|malloc_consolidate|tcache|sysmalloc|__libc_free|realloc")
# Frames that say nothing about who allocated: skipped when naming an allocation's caller.
PLUMBING = re.compile(r"malloc|free|unlink_chunk|consolidate|tcache|sysmalloc|realloc|alloc::|__rust_|drop_in_place|"
                      r"raw_vec|RawVec|hashbrown|bytes::|Arc<|drop_slow|core::ptr|memmove|memcpy|String|Vec<|to_owned|"
                      r"to_vec|[Cc]lone|fmt|ByteString|Box<|into_iter|from_iter|collect|\[unknown\]")


def samples(perf_data):
    script = subprocess.run(["perf", "script", "-i", perf_data, "-F", "comm,ip,sym"], capture_output=True, text=True,
                            check=True).stdout
    for block in script.split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if len(lines) >= 2:
            yield [re.sub(r"^[0-9a-f]+ ", "", line) for line in lines[1:]]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("perf_data")
    args = parser.parse_args()
    stages, callers, total, allocating = collections.Counter(), collections.Counter(), 0, 0
    for frames in samples(args.perf_data):
        total += 1
        joined = " ; ".join(frames)
        stage = next((name for name, pattern in STAGES if re.search(pattern, joined)), None)
        if stage is None:
            waiting = any(WAITING.search(frame) for frame in frames[:INNERMOST])
            stage = "waiting for work (epoll, parked threads)" if waiting else "the task scheduler and the rest"
        stages[stage] += 1
        if ALLOCATOR.search(frames[0]):
            allocating += 1
            callers[next((f for f in frames[1:] if not PLUMBING.search(f)), "?")[:100]] += 1
    if not total:
        raise SystemExit(f"no samples in {args.perf_data}")
    print(f"{total} samples")
    for name, n in stages.most_common():
        print(f"{100 * n / total:5.1f} %  {name}")
    print(f"{100 * allocating / total:5.1f} %  of the samples in the allocator; its callers:")
    for caller, n in callers.most_common(6):
        print(f"    {100 * n / total:5.1f} %  {caller}")


if __name__ == "__main__":
    main()
