//! Jaeger conventions to OpenTelemetry: the tags that become a span's kind
//! and status, and the process tags that get OpenTelemetry names.

use logbridge_event::{KeyString, ObjectMap, SpanKind, SpanStatus, StatusCode, Value};

use crate::common::{
    ERROR, HTTP_STATUS_CODE, HTTP_STATUS_MESSAGE, OTEL_STATUS_CODE, OTEL_STATUS_DESCRIPTION,
    SPAN_KIND, kind_from_tag, status_from_http, str_of,
};

/// Takes the kind and status out of a span's tags, removing the tags that
/// were turned into them (and only those: an `error=false` tag, or an HTTP
/// status message that only explained the status, stays an attribute).
pub(crate) fn kind_and_status(tags: &mut Vec<(KeyString, Value)>) -> (SpanKind, SpanStatus) {
    // Indices of the last occurrence of each key: the last duplicate wins,
    // as it does when the tags become a map.
    let mut kind = None;
    let mut error = None;
    let mut code = None;
    let mut desc = None;
    let mut http_code = None;
    let mut http_msg = None;
    let mut seen = 0usize;
    for (i, (k, _)) in tags.iter().enumerate() {
        let slot = match k.as_str() {
            SPAN_KIND => &mut kind,
            ERROR => &mut error,
            OTEL_STATUS_CODE => &mut code,
            OTEL_STATUS_DESCRIPTION => &mut desc,
            HTTP_STATUS_CODE => &mut http_code,
            HTTP_STATUS_MESSAGE => &mut http_msg,
            _ => continue,
        };
        *slot = Some(i);
        seen += 1;
    }
    if kind.is_none() && error.is_none() && code.is_none() && http_code.is_none() {
        return (SpanKind::Unspecified, SpanStatus::default());
    }

    let span_kind = kind.map_or(SpanKind::Unspecified, |i| kind_from_tag(&tags[i].1));
    let (mut drop_error, mut drop_desc) = (false, false);
    let mut status: Option<SpanStatus> = None;
    let message = |i: Option<usize>| i.map(|i| str_of(&tags[i].1).to_owned());

    // An `error=true` tag is the final word on failure.
    if let Some(i) = error
        && tags[i].1 == Value::Bool(true)
    {
        drop_error = true;
        drop_desc = desc.is_some();
        status = Some(SpanStatus {
            code: StatusCode::Error,
            message: message(desc)
                .or_else(|| message(http_msg))
                .unwrap_or_default(),
        });
    }
    if let Some(i) = code {
        if status.is_none() {
            let text = str_of(&tags[i].1);
            let code = if text.eq_ignore_ascii_case("ok") {
                StatusCode::Ok
            } else if text.eq_ignore_ascii_case("error") {
                StatusCode::Error
            } else {
                StatusCode::Unset
            };
            drop_desc = desc.is_some();
            status = Some(SpanStatus {
                code,
                message: message(desc).unwrap_or_default(),
            });
        }
    } else if status.is_none()
        && let Some(i) = http_code
        && let Some(code) = status_from_http(&tags[i].1, span_kind)
        && code != StatusCode::Unset
    {
        status = Some(SpanStatus {
            code,
            message: message(http_msg).unwrap_or_default(),
        });
    }

    let drop_kind = kind.is_some();
    let drop_code = code.is_some();
    let distinct = [kind, error, code, desc, http_code, http_msg]
        .iter()
        .filter(|i| i.is_some())
        .count();
    if seen == distinct {
        // No duplicates (the usual case): remove by index, last first so
        // the other indices stay right.
        let mut doomed = [
            kind.filter(|_| drop_kind),
            error.filter(|_| drop_error),
            code.filter(|_| drop_code),
            desc.filter(|_| drop_desc),
        ];
        doomed.sort_unstable_by(|a, b| b.cmp(a));
        for i in doomed.into_iter().flatten() {
            tags.remove(i);
        }
    } else if drop_kind || drop_error || drop_code || drop_desc {
        tags.retain(|(k, _)| {
            let k = k.as_str();
            !((drop_kind && k == SPAN_KIND)
                || (drop_error && k == ERROR)
                || (drop_code && k == OTEL_STATUS_CODE)
                || (drop_desc && k == OTEL_STATUS_DESCRIPTION))
        });
    }
    (span_kind, status.unwrap_or_default())
}

/// Process tags that have OpenTelemetry names: `hostname` becomes
/// `host.name` and `jaeger.version` becomes `opencensus.exporterversion`
/// (prefixed `Jaeger-`), unless the target key is already set.
pub(crate) fn translate_process_tags(attrs: &mut ObjectMap) {
    if !attrs.contains_key("host.name")
        && let Some(host) = attrs.remove("hostname")
    {
        attrs.insert("host.name".into(), host);
    }
    if !attrs.contains_key("opencensus.exporterversion")
        && let Some(version) = attrs.remove("jaeger.version")
    {
        let version = format!("Jaeger-{}", str_of(&version));
        attrs.insert("opencensus.exporterversion".into(), Value::from(version));
    }
}
