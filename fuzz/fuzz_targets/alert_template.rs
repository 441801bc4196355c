//! Fuzzes alert templates: any text compiles or fails with a position, and
//! whatever compiles expands (within its limits) or fails, never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use logbridge_rules::template::{QuerySample, Template, TemplateData};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(template) = Template::compile("fuzz", text) else {
        return;
    };
    let labels = vec![("instance".to_string(), "a:9090".to_string())];
    let external = vec![("cluster".to_string(), "eu1".to_string())];
    let data = TemplateData {
        labels: &labels,
        external_labels: &external,
        external_url: "http://localhost:8080",
        value: 0.25,
    };
    let mut query = |_: &str| -> Result<Vec<QuerySample>, String> {
        Ok(vec![QuerySample {
            labels: labels.clone(),
            value: 1.5,
        }])
    };
    let _ = template.expand(&data, &mut query);
});
