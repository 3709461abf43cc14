use serde_json::{Value, json};

use super::{KeyFields, Projection, scan};

/// Reads the key fields with the serde projection alone.
fn serde_fields(text: &str) -> KeyFields<'_> {
    serde_json::from_str::<Projection>(text)
        .map(KeyFields::from)
        .unwrap_or_default()
}

/// Checks that the scanner, when it reads `text`, gives the serde
/// projection's fields, and returns whether it read it.
fn agrees(text: &str) -> bool {
    let expected = serde_fields(text);
    assert_eq!(KeyFields::read(text), expected, "{text}");
    match scan(text) {
        Some(fields) => {
            assert_eq!(fields, expected, "{text}");
            true
        }
        None => false,
    }
}

fn full_event() -> Value {
    json!({
        "actor": {
            "id": "00u1a2b3c4", "type": "User", "alternateId": "jdoe@example.com",
            "displayName": "J. Doe", "detailEntry": null
        },
        "client": {
            "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "SAFARI"},
            "zone": "null", "device": "Computer", "id": null, "ipAddress": "198.51.100.7",
            "geographicalContext": {
                "city": "São Paulo", "state": "SP", "country": "Brazil", "postalCode": "01000",
                "geolocation": {"lat": -23.55, "lon": -46.63e0}
            }
        },
        "authenticationContext": {"externalSessionId": "102abc", "interface": null},
        "displayMessage": "User login to Okta \"quoted\" \\ tab\t東京 😀 \u{1}",
        "eventType": "user.session.start",
        "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
        "published": "2026-11-30T23:59:59.999Z",
        "securityContext": {"asNumber": 7018, "asOrg": "at&t", "isp": "at&t", "domain": ".", "isProxy": false},
        "severity": "WARN",
        "debugContext": {"debugData": {"requestUri": "/api/v1/authn", "threatSuspected": "false", "list": [[1, 2], [], [{"id": "not a target"}]]}},
        "legacyEventType": "core.user_auth.login_failed",
        "transaction": {"type": "WEB", "id": "Xa1b2c3", "detail": {}},
        "uuid": "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a",
        "version": "0",
        "request": {"ipChain": [{"ip": "198.51.100.7", "geographicalContext": {"city": "x"}}]},
        "target": [
            {"id": "0oa1", "type": "AppInstance", "alternateId": "Example", "detailEntry": {"signOnModeType": "SAML_2_0"}},
            {"type": "AppUser", "alternateId": "no id"},
            {"id": null}
        ]
    })
}

/// Events whose text the scanner reads itself.
fn scanned_corpus() -> Vec<String> {
    let full = full_event();
    vec![
        serde_json::to_string(&full).unwrap(),
        serde_json::to_string_pretty(&full).unwrap(),
        " \r\n{ } \t".to_string(),
        r#"{"eventType":null,"outcome":null,"actor":null,"client":null,"securityContext":null,"target":null,"transaction":null}"#.to_string(),
        r#"{"target":[],"client":{"geographicalContext":null,"ipAddress":"null"}}"#.to_string(),
        r#"{"target":[{}],"actor":{},"transaction":{}}"#.to_string(),
        r#"{"eventType":"a\u0062c","actor":{"alternateId":"\"q\" \\ \/ \b\f\n\r\t \u00e9"}}"#.to_string(),
        r#"{"client":{"geographicalContext":{"city":"Z\u00fcrich","country":"\u65e5\u672c"}}}"#.to_string(),
        r#"{"data":1,"data":2,"x":{"id":1,"id":2},"target":[{"x":1,"x":2,"id":"t"}]}"#.to_string(),
        r#"{"severity":"","eventType":"","outcome":{"result":"SUCCESS","extra":[{"result":7}]}}"#.to_string(),
        // serde_json checks the grammar of ignored numbers, not their range.
        r#"{"eventType":"a","debugContext":{"n":1e400,"m":-1e-400,"i":123456789012345678901234567890}}"#.to_string(),
    ]
}

/// Events that the serde projection reads, for several of them differently
/// from what a quick look suggests.
fn fallback_corpus() -> Vec<&'static str> {
    vec![
        // Escaped keys match field names after unescaping.
        r#"{"event\u0054ype":"x"}"#,
        r#"{"actor":{"\u0069d":"00u1"}}"#,
        // Duplicate known keys make every field null.
        r#"{"eventType":"a","eventType":"b"}"#,
        r#"{"eventType":"a","actor":{"id":"a","id":"b"}}"#,
        r#"{"eventType":"a","outcome":null,"outcome":{}}"#,
        r#"{"eventType":"a","target":[{"id":"a","id":"b"}]}"#,
        r#"{"eventType":"a","securityContext":{"asNumber":1,"asNumber":2}}"#,
        // Mistyped fields make every field null.
        r#"{"eventType":7,"severity":"INFO"}"#,
        r#"{"eventType":"a","outcome":"x"}"#,
        r#"{"eventType":"a","client":{"ipAddress":true}}"#,
        r#"{"eventType":"a","target":{"id":"x"}}"#,
        r#"{"eventType":"a","target":[null]}"#,
        r#"{"eventType":"a","target":[{"id":5}]}"#,
        r#"{"eventType":"a","target":"x"}"#,
        // Arrays read as the fields of an object, in order.
        r#"{"actor":["00u1","jdoe","User"]}"#,
        r#"{"actor":["00u1"]}"#,
        r#"{"target":[["0oa1"]]}"#,
        r#"{"securityContext":[7018]}"#,
        r#"["user.session.start","INFO",null,null,null,null,null,null]"#,
        r#"[null,null,null,null,null,null,null,null]"#,
        // Not an object, or not JSON.
        "[]",
        "null",
        "\"x\"",
        "5",
        "",
        "{",
        r#"{"eventType":"a",}"#,
        r#"{"eventType":"a"} x"#,
        r#"{"eventType":"a"}}"#,
        // Escaped UTF-16 surrogates.
        r#"{"client":{"geographicalContext":{"city":"\ud83d\ude00"}}}"#,
        r#"{"client":{"geographicalContext":{"city":"\ud83d"}}}"#,
        // An `asNumber` out of the range of `f64` is an error.
        r#"{"eventType":"a","securityContext":{"asNumber":1e400}}"#,
    ]
}

#[test]
fn scanned_events_agree_with_serde() {
    for text in scanned_corpus() {
        assert!(agrees(&text), "not scanned: {text}");
    }
}

#[test]
fn unusual_events_agree_with_serde() {
    for text in fallback_corpus() {
        agrees(text);
    }
}

#[test]
fn full_event_fields() {
    let text = serde_json::to_string_pretty(&full_event()).unwrap();
    let fields = scan(&text).unwrap();
    assert_eq!(fields.event_type.as_deref(), Some("user.session.start"));
    assert_eq!(fields.severity.as_deref(), Some("WARN"));
    assert_eq!(fields.outcome_result.as_deref(), Some("FAILURE"));
    assert_eq!(
        fields.outcome_reason.as_deref(),
        Some("INVALID_CREDENTIALS")
    );
    assert_eq!(fields.actor_id.as_deref(), Some("00u1a2b3c4"));
    assert_eq!(
        fields.actor_alternate_id.as_deref(),
        Some("jdoe@example.com")
    );
    assert_eq!(fields.actor_type.as_deref(), Some("User"));
    assert_eq!(fields.client_ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(fields.country.as_deref(), Some("Brazil"));
    assert_eq!(fields.city.as_deref(), Some("São Paulo"));
    assert_eq!(fields.as_number, Some(7018));
    let ids: Vec<Option<&str>> = fields
        .target_ids
        .as_ref()
        .unwrap()
        .iter()
        .map(|id| id.as_deref())
        .collect();
    assert_eq!(ids, [Some("0oa1"), None, None]);
    assert_eq!(fields.transaction_id.as_deref(), Some("Xa1b2c3"));
}

#[test]
fn type_error_nulls_every_field() {
    let text = r#"{"eventType":"a","actor":{"id":"00u1"},"client":{"ipAddress":["x"]}}"#;
    assert_eq!(KeyFields::read(text), KeyFields::default());
    assert!(scan(text).is_none());
}

#[test]
fn escaped_values_unescaped() {
    let text =
        r#"{"eventType":"a\u0062c","client":{"geographicalContext":{"city":"Z\u00fcrich"}}}"#;
    let fields = scan(text).unwrap();
    assert_eq!(fields.event_type.as_deref(), Some("abc"));
    assert_eq!(fields.city.as_deref(), Some("Zürich"));
}

#[test]
fn as_number_forms_agree_with_serde() {
    let forms = [
        ("7018", Some(7018)),
        ("0", Some(0)),
        ("-5", Some(-5)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("18446744073709551616", None),
        ("-0", None),
        ("1.5", None),
        ("7e3", None),
        ("1.0", None),
        ("\"7018\"", Some(7018)),
        ("\" 42 \"", Some(42)),
        ("\"+12\"", Some(12)),
        ("\"1\\u0032\"", Some(12)),
        ("\"x\"", None),
        ("\"\"", None),
        ("\"null\"", None),
        ("null", None),
        ("true", None),
        ("{}", None),
        ("[7018]", None),
    ];
    for (form, expected) in forms {
        let text = format!(r#"{{"eventType":"a","securityContext":{{"asNumber":{form}}}}}"#);
        agrees(&text);
        let fields = KeyFields::read(&text);
        assert_eq!(fields.as_number, expected, "{form}");
        assert_eq!(fields.event_type.as_deref(), Some("a"), "{form}");
    }
}

#[test]
fn target_forms_agree_with_serde() {
    let forms: [(&str, Option<Vec<Option<&str>>>); 6] = [
        ("null", None),
        ("[]", Some(vec![])),
        ("[{}]", Some(vec![None])),
        (r#"[{"id":null}]"#, Some(vec![None])),
        (
            r#"[{"id":"a","x":[{"id":"b"}]},{"type":"c"}]"#,
            Some(vec![Some("a"), None]),
        ),
        (r#"[{"id":"\u0061"}]"#, Some(vec![Some("a")])),
    ];
    for (form, expected) in forms {
        let text = format!(r#"{{"target":{form}}}"#);
        assert!(agrees(&text), "{form}");
        let fields = KeyFields::read(&text);
        let ids: Option<Vec<Option<&str>>> = fields
            .target_ids
            .as_ref()
            .map(|ids| ids.iter().map(|id| id.as_deref()).collect());
        assert_eq!(ids, expected, "{form}");
    }
    assert_eq!(KeyFields::read("{}").target_ids, None);
}

/// Every one-byte deletion and insertion of a few events: the scanner gives
/// the serde projection's fields whenever it reads the text, and
/// [`KeyFields::read`] always does.
#[test]
fn mutated_events_agree_with_serde() {
    let mut texts = scanned_corpus();
    texts.truncate(2);
    texts.push(
        r#"{"eventType":"a\"b","securityContext":{"asNumber":-10},"target":[{"id":"t\u00e9"},{}],"actor":{"id":"x","type":null},"client":{"geographicalContext":{"city":"c"}}}"#
            .to_string(),
    );
    let inserted = [
        " ", ",", ":", "\"", "\\", "{", "}", "[", "]", "0", "1", "-", ".", "e", "n", "\u{7}",
    ];
    let (mut json, mut scanned) = (0, 0);
    for text in &texts {
        for at in 0..=text.len() {
            let mut variants = Vec::new();
            if at < text.len() && text.is_char_boundary(at) && text.is_char_boundary(at + 1) {
                variants.push(format!("{}{}", &text[..at], &text[at + 1..]));
            }
            if text.is_char_boundary(at) {
                for byte in inserted {
                    variants.push(format!("{}{byte}{}", &text[..at], &text[at..]));
                }
            }
            for variant in variants {
                if serde_json::from_str::<Value>(&variant).is_ok() {
                    json += 1;
                }
                if agrees(&variant) {
                    scanned += 1;
                }
            }
        }
    }
    assert!(json > 1000, "only {json} variants are JSON");
    assert!(scanned > 1000, "only {scanned} variants scanned");
}

#[test]
fn as_number_out_of_range_nulls_every_field() {
    let text = r#"{"eventType":"a","securityContext":{"asNumber":1e400}}"#;
    assert_eq!(KeyFields::read(text), KeyFields::default());
}
