//! VRL's `parse_json` on logbridge's JSON parser.
//!
//! `. = parse_json!(.message)` opens most remap programs, and VRL's own
//! implementation (serde_json into VRL values, one B-tree insert and one
//! string copy per field) was a third of a remap pipeline's CPU. The same
//! function here parses a JSON object with the `parse` transform's parser
//! building VRL's values directly (strings are slices of the input, each
//! object's entries sorted once into its B-tree), which costs about half
//! as much.
//!
//! Only the common case takes that path: no `max_depth`, the input a
//! string holding one JSON object, valid UTF-8 without a byte-order mark,
//! and parsed without error. Everything else (arrays and scalars at the
//! top, invalid UTF-8 under `lossy`, a BOM, every error, `max_depth`) goes
//! the way VRL's function goes, so results and error messages are VRL's
//! own. A property test holds both implementations to the same results.
//!
//! This module must not change what `parse_json` means: a difference from
//! VRL's function is a bug here.

use logbridge_codec::decode::{JsonBuilder, parse_json_object};
use vrl::compiler::prelude::*;
use vrl::value::KeyString;

/// `parse_json`, taking the place of the standard library's.
#[derive(Debug, Clone, Copy)]
pub struct ParseJson;

impl Function for ParseJson {
    fn identifier(&self) -> &'static str {
        vrl::stdlib::ParseJson.identifier()
    }

    fn summary(&self) -> &'static str {
        vrl::stdlib::ParseJson.summary()
    }

    fn usage(&self) -> &'static str {
        vrl::stdlib::ParseJson.usage()
    }

    fn category(&self) -> &'static str {
        vrl::stdlib::ParseJson.category()
    }

    fn internal_failure_reasons(&self) -> &'static [&'static str] {
        vrl::stdlib::ParseJson.internal_failure_reasons()
    }

    fn return_kind(&self) -> u16 {
        vrl::stdlib::ParseJson.return_kind()
    }

    fn return_rules(&self) -> &'static [&'static str] {
        vrl::stdlib::ParseJson.return_rules()
    }

    fn notices(&self) -> &'static [&'static str] {
        vrl::stdlib::ParseJson.notices()
    }

    fn pure(&self) -> bool {
        vrl::stdlib::ParseJson.pure()
    }

    fn examples(&self) -> &'static [Example] {
        vrl::stdlib::ParseJson.examples()
    }

    fn parameters(&self) -> &'static [Parameter] {
        vrl::stdlib::ParseJson.parameters()
    }

    fn compile(
        &self,
        state: &TypeState,
        ctx: &mut FunctionCompileContext,
        arguments: ArgumentList,
    ) -> Compiled {
        // VRL's expression checks the arguments and gives the type; with
        // `max_depth` it is also what runs.
        let vrl_expression = vrl::stdlib::ParseJson.compile(state, ctx, arguments.clone())?;
        if arguments.optional("max_depth").is_some() {
            return Ok(vrl_expression);
        }
        Ok(ParseJsonFn {
            value: arguments.required("value"),
            lossy: arguments.optional("lossy"),
            vrl_expression,
        }
        .as_expr())
    }
}

#[derive(Debug, Clone)]
struct ParseJsonFn {
    value: Box<dyn Expression>,
    lossy: Option<Box<dyn Expression>>,
    /// VRL's own expression, for the type it gives the result.
    vrl_expression: Box<dyn Expression>,
}

impl FunctionExpression for ParseJsonFn {
    fn resolve(&self, ctx: &mut Context<'_>) -> Resolved {
        let value = self.value.resolve(ctx)?;
        let lossy = match &self.lossy {
            Some(lossy) => lossy.resolve(ctx)?.try_boolean()?,
            None => true,
        };
        // Text a program built is VRL's `String`, text from an event its
        // `Bytes`: both are bytes here.
        if let Some(bytes) = value.as_bytes()
            && let Some(parsed) = parse_object(bytes)
        {
            return Ok(parsed);
        }
        parse_as_vrl_does(value, lossy)
    }

    fn type_def(&self, state: &TypeState) -> TypeDef {
        self.vrl_expression.type_def(state)
    }
}

/// The object in `bytes`, when it is one the fast parser takes as VRL
/// would; `None` sends the input VRL's way.
fn parse_object(bytes: &Bytes) -> Option<Value> {
    // A BOM is stripped by VRL and refused by the parser: VRL's way.
    if bytes.first() == Some(&0xef) {
        return None;
    }
    parse_json_object::<Vrl>(bytes).ok().map(Value::Object)
}

/// VRL's values, as serde_json gives them to VRL's `parse_json`.
struct Vrl;

impl JsonBuilder for Vrl {
    type Key = KeyString;
    type Value = Value;
    type Object = ObjectMap;

    #[inline(always)]
    fn key(text: &str) -> KeyString {
        KeyString::from(text)
    }
    #[inline(always)]
    fn string(bytes: Bytes) -> Value {
        Value::Bytes(bytes)
    }
    #[inline(always)]
    fn integer(n: i64) -> Value {
        Value::Integer(n)
    }
    #[inline(always)]
    fn float(f: f64) -> Value {
        // The parser gives finite floats only.
        NotNan::new(f).map_or(Value::Null, Value::Float)
    }
    fn boolean(b: bool) -> Value {
        Value::Boolean(b)
    }
    fn null() -> Value {
        Value::Null
    }
    fn array(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
    #[inline(always)]
    fn object(mut entries: Vec<(KeyString, Value)>) -> ObjectMap {
        // A B-tree built from entries sorts them stably and keeps the last
        // of equal keys, as JSON wants. Sorting them first with the event
        // maps' inline comparison leaves it sorted input, which it checks
        // in one pass: its own sort calls `memcmp` for every comparison.
        entries.sort_by(|a, b| logbridge_event::cmp_key(&a.0, &b.0));
        entries.into_iter().collect()
    }
    fn object_value(object: ObjectMap) -> Value {
        Value::Object(object)
    }
}

/// What VRL's `parse_json` does without `max_depth`: invalid UTF-8 replaced
/// when `lossy` (and then every leading BOM stripped), else refused by
/// serde_json (and one leading BOM stripped).
fn parse_as_vrl_does(value: Value, lossy: bool) -> Resolved {
    const BOM: &[u8] = b"\xef\xbb\xbf";
    let parsed = if lossy {
        let text = value.try_bytes_utf8_lossy()?;
        serde_json::from_str(text.trim_start_matches('\u{feff}'))
    } else {
        let bytes = value.try_bytes()?;
        serde_json::from_slice(bytes.strip_prefix(BOM).unwrap_or(&bytes))
    };
    Ok(parsed.map_err(|e| format!("unable to parse json: {e}"))?)
}

#[cfg(test)]
mod tests;
