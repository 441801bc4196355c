//! Vector's secret functions for VRL: `set_secret`, `get_secret` and
//! `remove_secret`. A secret is a string kept beside the event, never in
//! its fields, so no sink writes it; it lives for one program run (the
//! event model has no place to carry it further).

use vrl::compiler::prelude::*;

/// The three functions.
pub fn functions() -> Vec<Box<dyn Function>> {
    vec![
        Box::new(Secret(Op::Set)),
        Box::new(Secret(Op::Get)),
        Box::new(Secret(Op::Remove)),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Set,
    Get,
    Remove,
}

#[derive(Debug, Clone, Copy)]
struct Secret(Op);

const KEY: Parameter = Parameter::required("key", kind::BYTES, "The secret's name.");
const WITH_SECRET: &[Parameter] = &[
    KEY,
    Parameter::required("secret", kind::BYTES, "The secret's value."),
];
const KEY_ONLY: &[Parameter] = &[KEY];

impl Function for Secret {
    fn identifier(&self) -> &'static str {
        match self.0 {
            Op::Set => "set_secret",
            Op::Get => "get_secret",
            Op::Remove => "remove_secret",
        }
    }

    fn usage(&self) -> &'static str {
        match self.0 {
            Op::Set => "Keeps a secret beside the event.",
            Op::Get => "Returns a secret kept beside the event, or null.",
            Op::Remove => "Forgets a secret kept beside the event.",
        }
    }

    fn category(&self) -> &'static str {
        "Event"
    }

    fn return_kind(&self) -> u16 {
        match self.0 {
            Op::Get => kind::BYTES | kind::NULL,
            Op::Set | Op::Remove => kind::NULL,
        }
    }

    fn parameters(&self) -> &'static [Parameter] {
        match self.0 {
            Op::Set => WITH_SECRET,
            Op::Get | Op::Remove => KEY_ONLY,
        }
    }

    fn examples(&self) -> &'static [Example] {
        &[]
    }

    fn compile(
        &self,
        _state: &TypeState,
        _ctx: &mut FunctionCompileContext,
        arguments: ArgumentList,
    ) -> Compiled {
        Ok(SecretFn {
            op: self.0,
            key: arguments.required("key"),
            secret: arguments.optional("secret"),
        }
        .as_expr())
    }
}

#[derive(Debug, Clone)]
struct SecretFn {
    op: Op,
    key: Box<dyn Expression>,
    secret: Option<Box<dyn Expression>>,
}

impl FunctionExpression for SecretFn {
    fn resolve(&self, ctx: &mut Context<'_>) -> Resolved {
        let key = self.key.resolve(ctx)?;
        let key = key.try_bytes_utf8_lossy()?.into_owned();
        match self.op {
            Op::Get => Ok(ctx
                .target()
                .get_secret(&key)
                .map_or(Value::Null, Value::from)),
            Op::Set => {
                let secret = match &self.secret {
                    Some(e) => e.resolve(ctx)?.try_bytes_utf8_lossy()?.into_owned(),
                    None => String::new(),
                };
                ctx.target_mut().insert_secret(&key, &secret);
                Ok(Value::Null)
            }
            Op::Remove => {
                ctx.target_mut().remove_secret(&key);
                Ok(Value::Null)
            }
        }
    }

    fn type_def(&self, _state: &state::TypeState) -> TypeDef {
        match self.op {
            Op::Get => TypeDef::bytes().or_null().infallible(),
            Op::Set | Op::Remove => TypeDef::null().infallible(),
        }
    }
}
