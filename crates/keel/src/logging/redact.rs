//! Scrubs JWTs and Clerk secrets from each formatted log line before it is written: a last
//! guard for whatever prints one in plain text that the caps do not know about (a new
//! library version, a function's own log line). Encoded forms (hex, base64 of a whole
//! message) are the caps' job; this only sees text.

use std::borrow::Cow;
use std::io::{self, Write};

const JWT_MARK: &[u8] = b"[redacted JWT]";
const SECRET_MARK: &[u8] = b"[redacted]";

/// Secret prefixes (Clerk secret keys, Svix signing secrets), kept in the output so a reader
/// sees which kind was there.
const SECRET_PREFIXES: [&[u8]; 3] = [b"sk_live_", b"sk_test_", b"whsec_"];

/// A writer that redacts each `write` on its own. The fmt layer writes each event with one
/// `write_all` of the whole formatted line, and `write` here always takes all of it, so an
/// event is never split between two calls.
pub(super) struct Redacting<W> {
    inner: W,
}

impl<W> Redacting<W> {
    pub(super) fn new(inner: W) -> Self {
        Redacting { inner }
    }
}

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write_all(&redact(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `text` with every JWT (three base64url parts, the first starting `eyJ`, the encoding of
/// `{"`) and every secret after a known prefix replaced.
pub(super) fn redact(text: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while at < text.len() {
        let starts_word = at == 0 || !is_base64url(text[at - 1]);
        let found = if starts_word {
            secret_at(text, at)
        } else {
            None
        };
        match found {
            Some((end, keep, mark)) => {
                let out = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
                out.extend_from_slice(&text[copied..at + keep]);
                out.extend_from_slice(mark);
                copied = end;
                at = end;
            }
            None => at += 1,
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.extend_from_slice(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

/// A secret starting at `at`: where it ends, how many leading bytes to keep, and the mark.
fn secret_at(text: &[u8], at: usize) -> Option<(usize, usize, &'static [u8])> {
    let rest = &text[at..];
    if rest.starts_with(b"eyJ") {
        return jwt_len(rest).map(|len| (at + len, 0, JWT_MARK));
    }
    let prefix = SECRET_PREFIXES.iter().find(|p| rest.starts_with(p))?;
    // Svix secrets are standard base64; Clerk keys are alphanumeric.
    let body = rest[prefix.len()..]
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        .count();
    (body >= 8).then_some((at + prefix.len() + body, prefix.len(), SECRET_MARK))
}

/// The length of a JWT at the start of `text`: header `.` payload `.` signature (which may
/// be empty, as in `alg: none`).
fn jwt_len(text: &[u8]) -> Option<usize> {
    let header = run(text);
    let payload = run(text.get(header + 1..)?);
    let signature_at = header + 1 + payload + 1;
    let dots = text.get(header) == Some(&b'.') && text.get(signature_at - 1) == Some(&b'.');
    if header < 10 || payload < 2 || !dots {
        return None;
    }
    Some(signature_at + run(&text[signature_at..]))
}

fn run(text: &[u8]) -> usize {
    text.iter().take_while(|&&b| is_base64url(b)).count()
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str =
        "eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc18xIn0.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJl-_x";

    fn redacted(text: &str) -> String {
        String::from_utf8(redact(text.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn jwts_are_replaced_wherever_they_stand() {
        assert_eq!(redacted(JWT), "[redacted JWT]");
        assert_eq!(
            redacted(&format!(
                r#"Received message {{"value":"{JWT}"}} and Bearer {JWT}."#
            )),
            r#"Received message {"value":"[redacted JWT]"} and Bearer [redacted JWT]."#
        );
        // `alg: none` has an empty signature.
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
        assert_eq!(
            redacted(&format!("t={unsigned} end")),
            "t=[redacted JWT] end"
        );
    }

    #[test]
    fn secrets_keep_their_prefix() {
        assert_eq!(
            redacted("key sk_test_AbC123dEf456GhI and whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw="),
            "key sk_test_[redacted] and whsec_[redacted]"
        );
        assert_eq!(redacted("sk_live_0123456789abcdef"), "sk_live_[redacted]");
    }

    #[test]
    fn ordinary_text_is_left_alone_and_not_copied() {
        for text in [
            "loaded signing keys issuer=https://a.clerk.accounts.dev keys=1",
            // Base64 JSON without dots (Clerk's image URLs) is not a JWT.
            "imageUrl=https://img.clerk.com/eyJpaWQiOiJpbnNfMSJ9",
            "a.b.c eyJ.x.y",
            "ask_test_ is not a prefix here, nor is sk_test_short",
        ] {
            assert!(
                matches!(redact(text.as_bytes()), Cow::Borrowed(_)),
                "{text}"
            );
        }
    }
}
