//! Which service types Hearth browses.

/// Browsed on start, whether or not the meta-query reveals them: many responders ignore the
/// meta-query (Zephyr, old Homebridge, watson/bonjour) or answer it wrongly (ESP8266mDNS), so
/// it can only add to this list. From the device reference (Home Assistant's matchers).
pub const BROWSED: &[&str] = &[
    "_hap._tcp",
    "_hap._udp",
    "_matter._tcp",
    "_matterc._udp",
    "_matterd._udp",
    "_meshcop._udp",
    "_googlecast._tcp",
    "_airplay._tcp",
    "_raop._tcp",
    "_companion-link._tcp",
    "_hue._tcp",
    "_esphomelib._tcp",
    "_shelly._tcp",
    "_http._tcp",
    "_wled._tcp",
    "_nanoleafapi._tcp",
    "_elg._tcp",
    "_sonos._tcp",
    "_spotify-connect._tcp",
    "_ipp._tcp",
    "_ipps._tcp",
    "_printer._tcp",
    "_miio._udp",
    "_ewelink._tcp",
    "_amzn-wplay._tcp",
    "_axis-video._tcp",
    "_mqtt._tcp",
    "_workstation._tcp",
    "_home-assistant._tcp",
    "_slzb-06._tcp",
];

/// The DNS-SD service type enumeration name (RFC 6763 §9).
pub const META_QUERY: &str = "_services._dns-sd._udp.local.";

/// `_http._tcp` → `_http._tcp.local.`
pub fn fully_qualified(ty: &str) -> String {
    format!("{}.local.", ty.trim_end_matches('.').trim_end_matches(".local"))
}

/// Reads a service type from a meta-query answer's PTR target. A correct answer is the type
/// itself (`_http._tcp.local.`); ESP8266mDNS answers with an instance
/// (`kitchen._http._tcp.local.`), which still names the type. Anything else is ignored.
pub fn type_from_meta_answer(target: &str) -> Option<String> {
    let labels: Vec<&str> = target.trim_end_matches('.').split('.').collect();
    let n = labels.len();
    if n < 3 || !labels[n - 1].eq_ignore_ascii_case("local") {
        return None;
    }
    let (service, proto) = (labels[n - 3], labels[n - 2].to_ascii_lowercase());
    let valid_service = service.len() >= 2
        && service.len() <= 16
        && service.starts_with('_')
        && service[1..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid_service || !(proto == "_tcp" || proto == "_udp") {
        return None;
    }
    if service.eq_ignore_ascii_case("_dns-sd") {
        return None;
    }
    Some(format!("{}.{proto}", service.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browses_at_least_the_issue_list() {
        for must in [
            "_hap._tcp",
            "_matter._tcp",
            "_matterc._udp",
            "_googlecast._tcp",
            "_airplay._tcp",
            "_raop._tcp",
            "_hue._tcp",
            "_esphomelib._tcp",
            "_shelly._tcp",
            "_http._tcp",
            "_wled._tcp",
            "_ipp._tcp",
            "_sonos._tcp",
            "_mqtt._tcp",
            "_workstation._tcp",
            "_home-assistant._tcp",
        ] {
            assert!(BROWSED.contains(&must), "{must}");
        }
        assert!(BROWSED.len() >= 20);
    }

    #[test]
    fn meta_answers_right_and_wrong() {
        assert_eq!(type_from_meta_answer("_http._tcp.local.").as_deref(), Some("_http._tcp"));
        // ESP8266mDNS answered with an instance PTR: still tells us the type.
        assert_eq!(type_from_meta_answer("kitchen._esphomelib._tcp.local.").as_deref(), Some("_esphomelib._tcp"));
        assert_eq!(type_from_meta_answer("_Sonos._TCP.local.").as_deref(), Some("_sonos._tcp"));
        for junk in [
            "",
            "local.",
            "_http.local.",
            "foo.bar.local.",
            "_http._sctp.local.",
            "_services._dns-sd._udp.local.",
            "_x y._tcp.local.",
            "_http._tcp.example.com.",
        ] {
            assert_eq!(type_from_meta_answer(junk), None, "{junk}");
        }
    }
}
