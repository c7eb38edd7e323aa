#![no_main]
//! Gateway template parsing and rendering: what parses renders to a URL
//! without a placeholder, whose token is exactly the one given.

use libfuzzer_sys::fuzz_target;
use license_activator::gateway::GatewayTemplate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (url, token) = text.split_once('\u{1}').unwrap_or((text, "tkn"));
    if let Ok(parsed) = GatewayTemplate::parse(url) {
        assert_eq!(GatewayTemplate::from_stored(parsed.template.as_str()).as_ref(), Ok(&parsed.template));
        if let Ok(rendered) = parsed.template.render(token) {
            assert!(!rendered.contains("{}"));
        }
    }
});
