//! Fuzzes the rule-file loader with its template check: any text gives
//! rule groups or positioned errors, never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_rules::rule_file::{ParseOptions, parse_rule_file_with};
use logbridge_rules::template::Template;

fn check_template(text: &str) -> Result<(), String> {
    Template::compile("t", text).map(|_| ()).map_err(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let options = ParseOptions {
        template_check: Some(check_template),
        ..ParseOptions::default()
    };
    if let Err(errors) = parse_rule_file_with("fuzz.yml", text, &options) {
        for e in errors {
            let _ = e.to_string();
        }
    }
});
