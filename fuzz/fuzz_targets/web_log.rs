//! The web server log decoder (access and error logs of nginx and Apache) on
//! arbitrary text: it must never panic, be deterministic, and give numbers
//! where it promises them (status 100-999, ports within u16).

#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil_decode::web::decode_web;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    for text in [
        line.to_string(),
        format!("203.0.113.9 - bob [10/Oct/2023:13:55:36 -0700] \"{line}"),
        format!(
            "203.0.113.9 - - [10/Oct/2023:13:55:36 -0700] \"GET {line} HTTP/1.1\" 200 5 {line}"
        ),
        format!("2024/01/02 03:04:05 [error] 1#0: *5 {line}"),
        format!("[Tue Jan 02 03:04:05.123456 2024] [core:error] {line}"),
    ] {
        for app in ["", "nginx", "httpd"] {
            let record = decode_web(app, &text);
            assert_eq!(record, decode_web(app, &text));
            let Some(record) = record else { continue };
            assert_eq!(
                record.source.categories,
                vec!["webserver".to_string()],
                "{text:?}"
            );
            if let Some(status) = record.doc.get("http.response.status_code") {
                assert!(status.as_u64().is_some_and(|s| (100..=999).contains(&s)));
            }
            assert!(record
                .doc
                .get("source.port")
                .is_none_or(|p| p.as_u64().is_some_and(|p| p <= 65535)));
        }
    }
});
