//! The data-gateway address template, with its `?token={}` placeholder.
//!
//! The vendor's instructions say: keep `?token={}` at the end of the gateway
//! address exactly as it is; `{}` is a placeholder the install fills with
//! each workspace's token. [`GatewayTemplate::parse`] accepts exactly that
//! and refuses, with a message saying what to type instead, everything
//! operators get wrong. The address is parsed with the `url` crate (the
//! WHATWG URL standard) and **stored as that parser serialises it**: host
//! in lower case, IDNs in punycode, a default port dropped, `.` and `..`
//! path segments resolved, and a percent-encoded placeholder (`%7B%7D`)
//! written `{}`; each change is noted. What is stored is what every client
//! reads the same way: an address where parsers disagree — a backslash
//! before the query, user info or an `@` in the authority, a
//! percent-encoded host — is refused.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use url::Url;

use license_common::exit::{ExitClass, Explain};

/// The placeholder the install fills with a workspace token.
pub const PLACEHOLDER: &str = "{}";
/// The query parameter that carries it.
pub const TOKEN_PARAM: &str = "token";
/// The longest gateway address accepted.
pub const MAX_URL_LEN: usize = 2048;
/// The longest workspace token accepted by [`GatewayTemplate::render`].
pub const MAX_TOKEN_LEN: usize = 4096;

/// Characters left as they are in a rendered token: RFC 3986 unreserved.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A validated gateway address with exactly one `token={}` query parameter.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GatewayTemplate(String);

/// The outcome of parsing: the template, and notes about what was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The template to store.
    pub template: GatewayTemplate,
    /// Things the operator should know (e.g. `%7B%7D` read as `{}`).
    pub notes: Vec<String>,
}

impl GatewayTemplate {
    /// Validates what an operator typed.
    pub fn parse(input: &str) -> Result<Parsed, GatewayError> {
        if input.is_empty() {
            return Err(GatewayError::Empty);
        }
        if input.len() > MAX_URL_LEN {
            return Err(GatewayError::TooLong);
        }
        if input.trim() != input {
            return Err(GatewayError::SurroundingWhitespace);
        }
        let quotes = ['"', '\'', '`', '“', '”', '‘', '’'];
        if input.starts_with(quotes) || input.ends_with(quotes) {
            return Err(GatewayError::Quoted);
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(GatewayError::InnerWhitespace);
        }
        if !input.contains("://") {
            let guess = format!("https://{input}");
            return Err(GatewayError::MissingScheme {
                looks_like_host: Url::parse(&guess).is_ok_and(|u| u.host().is_some()),
            });
        }
        let url = Url::parse(input).map_err(|e| GatewayError::NotAUrl { detail: e.to_string() })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GatewayError::UnsupportedScheme { scheme: url.scheme().to_owned() });
        }
        if url.host().is_none() {
            return Err(GatewayError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(GatewayError::UserInfo);
        }
        // Where parsers disagree: other clients may read another host.
        let after_scheme = &input[input.find("://").map_or(0, |i| i + 3)..];
        let authority = &after_scheme[..after_scheme.find(['/', '?', '#', '\\']).unwrap_or(after_scheme.len())];
        let before_query = &input[..input.find(['?', '#']).unwrap_or(input.len())];
        if before_query.contains('\\') {
            return Err(GatewayError::Ambiguous { what: "a backslash" });
        }
        if authority.contains('@') {
            return Err(GatewayError::UserInfo);
        }
        if authority.contains('%') {
            return Err(GatewayError::Ambiguous { what: "a percent-encoded host name" });
        }
        let tokens: Vec<String> =
            url.query_pairs().filter(|(k, _)| k == TOKEN_PARAM).map(|(_, v)| v.into_owned()).collect();
        match tokens.as_slice() {
            [] => return Err(GatewayError::NoTokenParameter),
            [value] if value.is_empty() => return Err(GatewayError::PlaceholderRemoved),
            [value] if value != PLACEHOLDER => {
                return Err(GatewayError::RealToken { preview: preview(value) });
            }
            [_] => {}
            many => return Err(GatewayError::DuplicateToken { count: many.len() }),
        }
        if url.query_pairs().any(|(k, v)| k != TOKEN_PARAM && v.contains(PLACEHOLDER)) {
            return Err(GatewayError::StrayPlaceholder);
        }

        // Rewrite the raw `token=…` element to its canonical form.
        let (before_fragment, fragment) = match input.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (input, None),
        };
        let (base, query) = before_fragment.split_once('?').ok_or(GatewayError::NoTokenParameter)?;
        let mut notes = Vec::new();
        let elements: Vec<String> = query
            .split('&')
            .map(|element| {
                let key = element.split('=').next().unwrap_or("");
                let key = percent_decode_str(&key.replace('+', " ")).decode_utf8_lossy().into_owned();
                if key == TOKEN_PARAM && element != "token={}" {
                    notes.push(format!(
                        "`{}` was read as the placeholder and stored as `token={{}}`",
                        element.chars().take(40).collect::<String>()
                    ));
                    "token={}".to_owned()
                } else {
                    element.to_owned()
                }
            })
            .collect();
        let mut text = format!("{base}?{}", elements.join("&"));
        if let Some(f) = fragment {
            text.push('#');
            text.push_str(f);
        }
        if text.matches(PLACEHOLDER).count() != 1 {
            return Err(GatewayError::StrayPlaceholder);
        }
        // Store what the parser makes of it, so that what is kept is read
        // the same way by every client.
        let normal = Url::parse(&text).map_err(|e| GatewayError::NotAUrl { detail: e.to_string() })?;
        let normal = normal.as_str();
        if normal.matches(PLACEHOLDER).count() != 1 || !normal.contains("token={}") {
            return Err(GatewayError::StrayPlaceholder);
        }
        if normal != text {
            notes.push(format!("stored as `{normal}`, as URL parsers read it"));
        }
        Ok(Parsed { template: GatewayTemplate(normal.to_owned()), notes })
    }

    /// Wraps text that was validated before (read back from the state file).
    pub fn from_stored(text: &str) -> Result<Self, GatewayError> {
        let parsed = Self::parse(text)?;
        if parsed.template.0 != text {
            return Err(GatewayError::NotAUrl { detail: "the stored template is not in canonical form".into() });
        }
        Ok(parsed.template)
    }

    /// The template exactly as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address for one workspace: the placeholder replaced by `token`,
    /// percent-encoded so that it stays one query value.
    pub fn render(&self, token: &str) -> Result<String, GatewayError> {
        if token.is_empty() {
            return Err(GatewayError::EmptyToken);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(GatewayError::TokenTooLong);
        }
        let encoded = utf8_percent_encode(token, QUERY_VALUE).to_string();
        let (head, fragment) = match self.0.split_once('#') {
            Some((h, f)) => (h, Some(f)),
            None => (self.0.as_str(), None),
        };
        let (base, query) = head.split_once('?').expect("a validated template has a query");
        let query: Vec<String> =
            query.split('&').map(|e| if e == "token={}" { format!("token={encoded}") } else { e.to_owned() }).collect();
        let mut out = format!("{base}?{}", query.join("&"));
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        Ok(out)
    }
}

impl fmt::Display for GatewayTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GatewayTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewayTemplate({:?})", self.0)
    }
}

/// The first characters of a value, never the whole of it.
fn preview(value: &str) -> String {
    let n = value.chars().count();
    let shown: String = value.chars().take(if n > 8 { 4 } else { 1 }).collect();
    format!("{shown}… ({n} characters)")
}

/// A gateway address or workspace token that cannot be used. No variant
/// carries a token in full.
#[derive(
    Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, strum::IntoStaticStr, strum::VariantNames,
)]
#[serde(untagged)]
#[non_exhaustive]
pub enum GatewayError {
    /// Nothing was given.
    #[error("the gateway address is empty")]
    Empty,
    /// Longer than [`MAX_URL_LEN`].
    #[error("the gateway address is longer than {MAX_URL_LEN} characters")]
    TooLong,
    /// Spaces or line breaks before or after.
    #[error("the gateway address has spaces or a line break before or after it")]
    SurroundingWhitespace,
    /// Wrapped in quotes.
    #[error("the gateway address is wrapped in quotes")]
    Quoted,
    /// Spaces inside.
    #[error("the gateway address contains spaces or control characters")]
    InnerWhitespace,
    /// No `scheme://`.
    #[error("the gateway address has no scheme{}", if *looks_like_host { " (it looks like a host name)" } else { "" })]
    MissingScheme {
        /// True when prefixing `https://` would make it a valid URL.
        looks_like_host: bool,
    },
    /// Not parseable.
    #[error("the gateway address is not a valid URL: {detail}")]
    NotAUrl {
        /// What the URL parser said.
        detail: String,
    },
    /// Not http or https.
    #[error("the gateway address uses `{scheme}://`; only http and https are supported")]
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },
    /// No host.
    #[error("the gateway address has no host")]
    NoHost,
    /// `user:password@` in the URL.
    #[error("the gateway address carries a user name or password, which would be stored in plain text")]
    UserInfo,
    /// No `token` parameter at all.
    #[error("the gateway address has no `token` query parameter")]
    NoTokenParameter,
    /// `?token=` with the placeholder removed.
    #[error("the gateway address has `token=` with nothing after it: the placeholder `{{}}` was removed")]
    PlaceholderRemoved,
    /// A real token where the placeholder belongs.
    #[error("the gateway address carries a real token ({preview}) where the placeholder `{{}}` belongs")]
    RealToken {
        /// The first characters only.
        preview: String,
    },
    /// `token` given more than once.
    #[error("the gateway address has {count} `token` parameters; it needs exactly one")]
    DuplicateToken {
        /// How many.
        count: usize,
    },
    /// An address that URL parsers read differently.
    #[error("the gateway address has {what} before the query, which URL parsers read differently")]
    Ambiguous {
        /// What was found.
        what: &'static str,
    },
    /// `{}` somewhere else too.
    #[error("`{{}}` appears in the gateway address outside the one `token={{}}` parameter")]
    StrayPlaceholder,
    /// Rendering with an empty token.
    #[error("the workspace token is empty")]
    EmptyToken,
    /// Rendering with an oversized token.
    #[error("the workspace token is longer than {MAX_TOKEN_LEN} bytes")]
    TokenTooLong,
}

impl Explain for GatewayError {
    fn class(&self) -> ExitClass {
        ExitClass::Usage
    }

    fn hint(&self) -> String {
        let keep = "end the address with `?token={}` exactly as the vendor wrote it, e.g. https://gateway.example.com/v1/write?token={}";
        match self {
            GatewayError::Empty | GatewayError::NoTokenParameter | GatewayError::NoHost => keep.into(),
            GatewayError::TooLong => "check that the right text was pasted".into(),
            GatewayError::SurroundingWhitespace => "remove the spaces or line breaks around the address".into(),
            GatewayError::Quoted => "remove the quotes; give the address itself".into(),
            GatewayError::InnerWhitespace => "remove the spaces; a URL cannot contain them".into(),
            GatewayError::MissingScheme { .. } => {
                "start the address with https:// (or http://), e.g. https://gateway.example.com/v1/write?token={}"
                    .into()
            }
            GatewayError::NotAUrl { .. } | GatewayError::UnsupportedScheme { .. } => keep.into(),
            GatewayError::UserInfo => "remove `user:password@`; give the access key pair separately".into(),
            GatewayError::PlaceholderRemoved => "write `?token={}`: keep the `{}`, the install fills it in".into(),
            GatewayError::RealToken { .. } => {
                "do not type a token: write `?token={}` literally; the install fills in each workspace's token".into()
            }
            GatewayError::DuplicateToken { .. } => "keep a single `token={}`".into(),
            GatewayError::StrayPlaceholder => "use `{}` only as the value of `token`".into(),
            GatewayError::Ambiguous { .. } => {
                "write the host plainly, with forward slashes only, e.g. https://gateway.example.com/v1/write?token={}"
                    .into()
            }
            GatewayError::EmptyToken | GatewayError::TokenTooLong => "pass the workspace's token".into(),
        }
    }

    fn case(&self) -> String {
        license_common::exit::case_of("GatewayError", self)
    }

    fn fields(&self) -> serde_json::Value {
        license_common::exit::fields_of(self)
    }
}

impl license_common::exit::Examples for GatewayError {
    fn examples() -> Vec<license_common::exit::Example<Self>> {
        use license_common::exit::{Example, placeholders};
        let n = placeholders::NUMBER as usize;
        vec![
            Example { error: GatewayError::Empty, when: "An empty address." },
            Example { error: GatewayError::TooLong, when: "More than 2048 characters: not an address." },
            Example { error: GatewayError::SurroundingWhitespace, when: "Pasted with spaces or a newline around it." },
            Example {
                error: GatewayError::Quoted,
                when: "Quotes that the shell did not remove, e.g. `'\"https://…\"'`.",
            },
            Example { error: GatewayError::InnerWhitespace, when: "Spaces or control characters inside the address." },
            Example {
                error: GatewayError::MissingScheme { looks_like_host: false },
                when: "No `https://` or `http://`.",
            },
            Example {
                error: GatewayError::MissingScheme { looks_like_host: true },
                when: "No `https://` or `http://`, and the address would be valid with one.",
            },
            Example {
                error: GatewayError::NotAUrl { detail: "<detail>".into() },
                when: "The URL parser refuses it (a bad port, a bad host, …). A stored address that no longer reads is not an error: the status shows it as a warning.",
            },
            Example {
                error: GatewayError::UnsupportedScheme { scheme: "<scheme>".into() },
                when: "Another scheme, e.g. `ftp://` or `file://`.",
            },
            Example { error: GatewayError::NoHost, when: "A URL without a host name." },
            Example { error: GatewayError::UserInfo, when: "`https://user:password@host/…`." },
            Example { error: GatewayError::NoTokenParameter, when: "No `token=` in the query." },
            Example { error: GatewayError::PlaceholderRemoved, when: "`?token=` with an empty value." },
            Example {
                error: GatewayError::RealToken { preview: "<first characters>… (<n> characters)".into() },
                when: "A workspace token was typed in place of `{}`; only its first characters are shown.",
            },
            Example { error: GatewayError::DuplicateToken { count: n }, when: "`token=` appears more than once." },
            Example { error: GatewayError::StrayPlaceholder, when: "`{}` elsewhere in the address." },
            Example {
                error: GatewayError::Ambiguous { what: "a backslash" },
                when: "An address that URL parsers read differently: a backslash before the query (`https://evil.example\\@gw.example.com/…`), a percent-encoded host name.",
            },
            Example { error: GatewayError::EmptyToken, when: "Rendering the address for an empty workspace token." },
            Example {
                error: GatewayError::TokenTooLong,
                when: "Rendering the address for a workspace token of more than 4096 bytes.",
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What operators type, and what must happen.
    #[rustfmt::skip]
    const CASES: &[(&str, Result<&str, &str>)] = &[
        ("https://gw.example.com/v1/write?token={}", Ok("https://gw.example.com/v1/write?token={}")),
        ("http://10.0.0.5:9529/v1/write?token={}", Ok("http://10.0.0.5:9529/v1/write?token={}")),
        ("http://localhost:9529/v1/write/metric?token={}", Ok("http://localhost:9529/v1/write/metric?token={}")),
        ("https://gw.example.com:8443/v1/write?precision=ms&token={}&rp=7d", Ok("https://gw.example.com:8443/v1/write?precision=ms&token={}&rp=7d")),
        ("https://[2001:db8::1]:8443/v1/write?token={}", Ok("https://[2001:db8::1]:8443/v1/write?token={}")),
        ("https://网关.例子.cn/v1/write?token={}", Ok("https://xn--d6q013i.xn--fsqu00a.cn/v1/write?token={}")),
        ("https://GW.Example.com/V1/Write?token={}", Ok("https://gw.example.com/V1/Write?token={}")),
        ("https://gw.example.com:443/a/./b/../write?token={}", Ok("https://gw.example.com/a/write?token={}")),
        ("https://evil.example\\@gw.example.com/v1/write?token={}", Err("a backslash")),
        ("https://gw.example.com\\v1/write?token={}", Err("a backslash")),
        ("https://gw.example.com/v1\\write?token={}", Err("a backslash")),
        ("https://gw%2Eexample.com/v1/write?token={}", Err("percent-encoded host")),
        ("https://@gw.example.com/v1/write?token={}", Err("user name or password")),
        ("https://gw.example.com/x?token={}#section", Ok("https://gw.example.com/x?token={}#section")),
        ("https://gw.example.com/v1/write?token=%7B%7D", Ok("https://gw.example.com/v1/write?token={}")),
        ("https://gw.example.com/v1/write?rp=7d&token=%7b%7d", Ok("https://gw.example.com/v1/write?rp=7d&token={}")),
        ("", Err("empty")),
        ("https://gw.example.com/v1/write?token=", Err("placeholder `{}` was removed")),
        ("https://gw.example.com/v1/write", Err("no `token` query parameter")),
        ("https://gw.example.com/v1/write?Token={}", Err("no `token` query parameter")),
        ("https://gw.example.com/v1/write?token=tkn_3f9a8b7c6d5e4f21", Err("real token (tkn_… (20 characters))")),
        ("https://gw.example.com/v1/write?token=<TOKEN>", Err("real token")),
        ("https://gw.example.com/v1/write?token={}&token={}", Err("2 `token` parameters")),
        ("https://gw.example.com/v1/write?token={}&ws={}", Err("outside the one `token={}`")),
        ("https://gw.example.com/{}/write?token={}", Err("outside the one `token={}`")),
        (" https://gw.example.com/v1/write?token={}", Err("spaces or a line break before or after")),
        ("https://gw.example.com/v1/write?token={}\n", Err("spaces or a line break before or after")),
        ("\"https://gw.example.com/v1/write?token={}\"", Err("wrapped in quotes")),
        ("'https://gw.example.com/v1/write?token={}'", Err("wrapped in quotes")),
        ("https://gw.example.com/v1/write?token={ }", Err("contains spaces")),
        ("gw.example.com/v1/write?token={}", Err("no scheme (it looks like a host name)")),
        ("ftp://gw.example.com/v1/write?token={}", Err("only http and https")),
        ("https://admin:s3cret@gw.example.com/v1/write?token={}", Err("user name or password")),
        ("https://?token={}", Err("not a valid URL")),
    ];

    #[test]
    fn what_operators_type() {
        assert!(CASES.len() >= 20);
        for (input, expected) in CASES {
            match (GatewayTemplate::parse(input), expected) {
                (Ok(parsed), Ok(stored)) => assert_eq!(parsed.template.as_str(), *stored, "input {input:?}"),
                (Err(e), Err(message)) => {
                    assert!(e.to_string().contains(message), "input {input:?}: got `{e}`, wanted `{message}`");
                    assert!(!e.hint().is_empty());
                }
                (got, _) => panic!("input {input:?}: got {got:?}, wanted {expected:?}"),
            }
        }
    }

    #[test]
    fn a_real_token_is_never_echoed_in_full() {
        let secret = "tkn_3f9a8b7c6d5e4f21";
        let err = GatewayTemplate::parse(&format!("https://gw.example.com/v1/write?token={secret}")).unwrap_err();
        assert!(!format!("{err} {err:?} {}", err.hint()).contains(secret));
    }

    #[test]
    fn the_encoded_placeholder_is_noted() {
        let parsed = GatewayTemplate::parse("https://gw.example.com/v1/write?token=%7B%7D").unwrap();
        assert_eq!(parsed.notes.len(), 1);
        assert!(parsed.notes[0].contains("%7B%7D"), "{:?}", parsed.notes);
        assert!(GatewayTemplate::parse("https://gw.example.com/v1/write?token={}").unwrap().notes.is_empty());
    }

    #[test]
    fn rendering_encodes_awkward_tokens_as_one_value() {
        let t = GatewayTemplate::parse("https://gw.example.com/v1/write?token={}&rp=7d").unwrap().template;
        assert_eq!(t.render("tkn_abc").unwrap(), "https://gw.example.com/v1/write?token=tkn_abc&rp=7d");
        assert_eq!(
            t.render("a&b#c=d+e/f 令牌").unwrap(),
            "https://gw.example.com/v1/write?token=a%26b%23c%3Dd%2Be%2Ff%20%E4%BB%A4%E7%89%8C&rp=7d"
        );
        assert_eq!(t.render("{}").unwrap(), "https://gw.example.com/v1/write?token=%7B%7D&rp=7d");
        assert_eq!(t.render(""), Err(GatewayError::EmptyToken));
        assert!(!t.render("x").unwrap().contains("{}"));
    }

    #[test]
    fn stored_text_must_be_canonical() {
        assert!(GatewayTemplate::from_stored("https://gw.example.com/v1/write?token={}").is_ok());
        assert!(GatewayTemplate::from_stored("https://gw.example.com/v1/write?token=%7B%7D").is_err());
        assert!(GatewayTemplate::from_stored("https://GW.example.com/v1/write?token={}").is_err());
    }

    #[test]
    fn what_is_stored_parses_to_itself() {
        for (input, expected) in CASES {
            if expected.is_ok() {
                let stored = GatewayTemplate::parse(input).unwrap().template;
                assert_eq!(Url::parse(stored.as_str()).unwrap().as_str(), stored.as_str(), "{input}");
                assert!(GatewayTemplate::from_stored(stored.as_str()).is_ok(), "{input}");
            }
        }
        let noted = GatewayTemplate::parse("https://GW.example.com/v1/write?token={}").unwrap();
        assert!(noted.notes.iter().any(|n| n.contains("stored as `https://gw.example.com/")), "{:?}", noted.notes);
    }

    fn templates() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("https://gw.example.com/v1/write?token={}".to_owned()),
            Just("http://[2001:db8::1]:9529/v1/write?precision=ms&token={}&rp=7d#frag".to_owned()),
            Just("https://网关.例子.cn:8443/a/b?x=1&token={}".to_owned()),
        ]
    }

    proptest! {
        #[test]
        fn render_then_parse_gives_back_the_token_and_the_rest(template in templates(), token in "\\PC{1,64}|[&#=+/ %{}?]{1,16}") {
            let t = GatewayTemplate::parse(&template).unwrap().template;
            let rendered = t.render(&token).unwrap();
            prop_assert!(!rendered.contains(PLACEHOLDER));
            let got = Url::parse(&rendered).unwrap();
            let want = Url::parse(&template).unwrap();
            let tokens: Vec<String> = got.query_pairs().filter(|(k, _)| k == "token").map(|(_, v)| v.into_owned()).collect();
            prop_assert_eq!(tokens, vec![token.clone()]);
            prop_assert_eq!(got.scheme(), want.scheme());
            prop_assert_eq!(got.host(), want.host());
            prop_assert_eq!(got.port(), want.port());
            prop_assert_eq!(got.path(), want.path());
            prop_assert_eq!(got.fragment(), want.fragment());
            let others = |u: &Url| u.query_pairs().filter(|(k, _)| k != "token").map(|(k, v)| (k.into_owned(), v.into_owned())).collect::<Vec<_>>();
            prop_assert_eq!(others(&got), others(&want));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,120}") {
            let _ = GatewayTemplate::parse(&text);
        }
    }
}
