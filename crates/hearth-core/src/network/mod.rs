//! Network permissions: how far each device may reach beyond the home, decided per DNS query.
//!
//! - [`domain`]: checked domain names; a rule for a domain covers the names under it.
//! - [`policy`]: a device's [`InternetLevel`], its [`DestinationRule`]s, and [`decide`], the
//!   pure decision about one query, with the rule that made it.
//! - [`defaults.toml`](DefaultNames): time servers every device may reach, the home's own names,
//!   and canary names; data, not code.
//! - [`mud`]: RFC 8520 MUD files read into destination rules, and written from them.

pub mod domain;
pub mod mud;
pub mod policy;

pub use domain::{Domain, InvalidDomain};
pub use policy::{
    Because, DefaultNames, DestinationRule, DeviceNetwork, InternetLevel, QueryAction, QueryDecision, RuleSource, RuleVerdict, decide,
};
