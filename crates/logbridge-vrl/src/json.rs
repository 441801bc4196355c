//! VRL's `parse_json` on logbridge's JSON parser.
//!
//! `. = parse_json!(.message)` opens most remap programs, and VRL's own
//! implementation (serde_json into VRL values, one B-tree insert and one
//! string copy per field) was a third of a remap pipeline's CPU. The same
//! function here parses a JSON object with the `parse` transform's parser
//! (strings are slices of the input, entries sorted once) and converts the
//! result, which costs about half as much.
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

use logbridge_codec::decode::{Parser, ParserConfig};
use vrl::compiler::prelude::*;

use crate::value::{NanSlots, object_to_vrl};

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
            parser: Parser::new(&ParserConfig::Json).expect("the JSON parser has no options"),
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
    parser: Parser,
}

impl FunctionExpression for ParseJsonFn {
    fn resolve(&self, ctx: &mut Context<'_>) -> Resolved {
        let value = self.value.resolve(ctx)?;
        let lossy = match &self.lossy {
            Some(lossy) => lossy.resolve(ctx)?.try_boolean()?,
            None => true,
        };
        if let Value::Bytes(bytes) = &value
            && let Some(parsed) = parse_object(&self.parser, bytes)
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
fn parse_object(parser: &Parser, bytes: &Bytes) -> Option<Value> {
    // A BOM is stripped by VRL and refused by the parser: VRL's way.
    if bytes.first() == Some(&0xef) {
        return None;
    }
    // The time matters only to syslog timestamps.
    let map = parser.parse_bytes(bytes, 0).ok()?;
    // JSON has no NaN, so there is nothing to remember.
    Some(Value::Object(object_to_vrl(map, &mut NanSlots::default())))
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
