#!/usr/bin/env python3
"""Draws Hearth's application icons (a warm house with a flame) as RGBA PNGs, without any
image library, so the icons can be regenerated anywhere: python3 scripts/make-icons.py"""
import math, struct, zlib, pathlib

def png(size):
    rows = []
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            u, v = (x + 0.5) / size, (y + 0.5) / size
            r = g = b = a = 0
            # Rounded square background.
            dx, dy = max(abs(u - 0.5) - 0.34, 0), max(abs(v - 0.5) - 0.34, 0)
            if math.hypot(dx, dy) < 0.14:
                r, g, b, a = 38, 42, 58, 255
                # House: roof triangle and body.
                roof = v > 0.22 and v < 0.48 and abs(u - 0.5) < (v - 0.22) * 1.15
                body = 0.46 <= v <= 0.8 and abs(u - 0.5) < 0.24
                if roof or body:
                    r, g, b = 245, 239, 226
                # Flame inside the body.
                fx, fy = (u - 0.5) / 0.11, (v - 0.66) / 0.13
                half = math.sqrt(max(0.0, 1 - fy * fy)) if fy >= 0 else max(0.0, 1 + fy / 1.6) ** 1.4
                if -1.6 < fy < 1 and abs(fx) < half:
                    r, g, b = 242, 140, 40
            row += bytes((r, g, b, a))
        rows.append(bytes(row))
    raw = b"".join(rows)
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")

out = pathlib.Path(__file__).resolve().parent.parent / "icons"
out.mkdir(exist_ok=True)
for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
    (out / name).write_bytes(png(size))
print("icons written to", out.name)
