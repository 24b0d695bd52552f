//! `hearth identity` and `hearth device merge|keep-apart`: who is who, where announcements could
//! not decide it.

use crate::api::types::{IdentityReview, MergeChoice, MergeProposal, MergeRequest};
use crate::client::Client;
use anyhow::Result;

pub async fn review(client: &Client, json: bool) -> Result<()> {
    let review = client.identity().await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&review)?);
    } else {
        print_review(&review);
    }
    Ok(())
}

pub async fn answer(client: &Client, id: &str, other: &str, answer: MergeChoice) -> Result<()> {
    let detail = client.answer_merge(id, &MergeRequest { other: other.to_owned(), answer }).await?;
    match answer {
        MergeChoice::Merge => println!(
            "Merged: {} ({}) is now one record, {}, keeping the stricter of every decision.",
            detail.device.name, detail.device.id, detail.device.state
        ),
        MergeChoice::KeepApart => println!("{id} and {other} stay two devices; Hearth will not ask again."),
    }
    Ok(())
}

fn print_review(review: &IdentityReview) {
    if review.proposals.is_empty() && review.ignored.is_empty() {
        println!("Nothing to decide: no announcement tried to join or confuse your devices' records.");
        return;
    }
    for p in &review.proposals {
        println!("{}", describe(p));
        println!("  merge:       hearth device merge {} {}", p.device_a, p.device_b);
        println!("  keep apart:  hearth device keep-apart {} {}", p.device_a, p.device_b);
    }
    if !review.ignored.is_empty() {
        println!("Announcements Hearth ignored (each named two different ids of one kind, which no real device does):");
    }
    for c in &review.ignored {
        let a = &c.announcement;
        println!(
            "  {} \"{}\" host {} from {}: {} ({} times)",
            a.service_type,
            a.instance,
            a.host,
            a.addresses.join(", "),
            c.keys.join(" and "),
            c.seen
        );
    }
}

/// One line a person can act on.
pub fn describe(p: &MergeProposal) -> String {
    let a = &p.announcement;
    format!(
        "Are {} ({}) and {} ({}) one device? An announcement said so ({} \"{}\" from {}, {} times). Hearth joined nothing: you decided about both.",
        p.name_a,
        p.device_a,
        p.name_b,
        p.device_b,
        a.service_type,
        a.instance,
        if a.addresses.is_empty() { "an unknown address".to_owned() } else { a.addresses.join(", ") },
        p.seen
    )
}
