//! JSON text written straight into a response body, for the pages that are too large to
//! build as `serde_json::Value` first.
//!
//! The text is the same that serde_json writes: strings escape `"`, `\` and control
//! characters and nothing else.

/// Appends `parts`, joined, as one JSON string.
pub(crate) fn push_json_string(out: &mut String, parts: &[&str]) {
    out.push('"');
    for part in parts {
        push_escaped(out, part);
    }
    out.push('"');
}

/// Appends `text` escaped as the contents of a JSON string, without the quotes.
fn push_escaped(out: &mut String, text: &str) {
    // Folding without an early exit lets the compiler check many bytes at once.
    let needs_escape = text.bytes().fold(false, |found, byte| {
        found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
    });
    if !needs_escape {
        out.push_str(text);
        return;
    }
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            control if u32::from(control) < 0x20 => {
                out.push_str("\\u00");
                out.push(char::from(HEX_DIGITS[(u32::from(control) >> 4) as usize]));
                out.push(char::from(HEX_DIGITS[(u32::from(control) & 0xf) as usize]));
            }
            other => out.push(other),
        }
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes a JSON array of `count` items, each appended by `write_item`, into a string
/// that starts with `capacity` bytes.
pub(crate) fn json_array(
    count: usize,
    capacity: usize,
    mut write_item: impl FnMut(usize, &mut String),
) -> String {
    let mut body = String::with_capacity(capacity);
    body.push('[');
    for position in 0..count {
        if position > 0 {
            body.push(',');
        }
        write_item(position, &mut body);
    }
    body.push(']');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_matches_serde_json() {
        let cases = [
            "plain",
            "",
            "quote \" and backslash \\",
            "tab\tnew line\ncontrol \u{1} \u{1f} \u{8}\u{c}\r",
            "ünïcödé / slash",
            "\"",
        ];
        for text in cases {
            let mut out = String::new();
            push_json_string(&mut out, &[text]);
            assert_eq!(out, serde_json::to_string(text).unwrap(), "text {text:?}");
        }
    }

    #[test]
    fn json_string_joins_parts() {
        let mut out = String::new();
        push_json_string(&mut out, &["http://host", "/api/v1/users/", "00u\"1"]);
        assert_eq!(
            out,
            serde_json::to_string("http://host/api/v1/users/00u\"1").unwrap()
        );
    }

    #[test]
    fn json_array_separates_items() {
        let body = json_array(3, 0, |position, out| out.push_str(&position.to_string()));
        assert_eq!(body, "[0,1,2]");
        assert_eq!(json_array(0, 0, |_, _| {}), "[]");
    }
}
