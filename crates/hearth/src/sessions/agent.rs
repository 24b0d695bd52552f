//! A browser's User-Agent in a homeowner's words: "Firefox on Android", "Safari on iPhone".
//! Only for showing where someone is signed in; never for deciding anything (it is whatever the
//! browser chose to say).

/// Browsers, most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
const BROWSERS: [(&str, &str); 10] = [
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("HeadlessChrome/", "Chromium (headless)"),
    ("Chromium/", "Chromium"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
];

/// Systems, most specific first: Android also says "Linux", iPhones say "like Mac OS X".
const SYSTEMS: [(&str, &str); 8] = [
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

/// "Chrome on Linux", "Safari on iPhone", "curl", or "An unknown browser".
pub fn describe(user_agent: &str) -> String {
    let browser = BROWSERS
        .iter()
        .find(|(token, _)| user_agent.contains(token))
        .map(|(_, name)| *name)
        .or_else(|| (user_agent.contains("Safari/") && user_agent.contains("Version/")).then_some("Safari"));
    let system = SYSTEMS.iter().find(|(token, _)| user_agent.contains(token)).map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => format!("A browser on {s}"),
        // Not a browser: a script names itself first (`curl/8.5`, `python-requests/2.31`).
        (None, None) => user_agent
            .split(['/', ' '])
            .next()
            .filter(|product| !product.is_empty() && product.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
            .map_or_else(|| "An unknown browser".to_owned(), str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn real_user_agents_in_plain_words() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36", "Chrome on Linux"),
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
                "Chromium (headless) on Linux",
            ),
            ("Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0", "Firefox on Android"),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
                "Samsung Internet on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("Python-urllib/3.13", "Python-urllib"),
            ("", "An unknown browser"),
            ("<script>", "An unknown browser"),
        ];
        for (ua, expected) in cases {
            assert_eq!(describe(ua), expected, "{ua}");
        }
    }
}
