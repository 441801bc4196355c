//! Tree-walking executor following `text/template/exec.go` with Prometheus'
//! `missingkey=zero` option, plus depth, step and output limits.

use std::borrow::Cow;
use std::rc::Rc;

use super::format::{print_action_value, sprint_value};
use super::functions::{Func, Param};
use super::parser::{Arg, Control, Node, Number, Pipe, Span};
use super::timefmt::Time;
use super::value::{Data, Value, label_get, label_map};
use super::{ErrorKind, QuerySample, Template, TemplateData, TemplateError};

pub(crate) type ExecResult<T> = Result<T, Box<TemplateError>>;

/// Why a walk stopped early: `{{break}}`, `{{continue}}` or an error.
pub(crate) enum Stop {
    Break,
    Continue,
    Err(Box<TemplateError>),
}

impl From<Box<TemplateError>> for Stop {
    fn from(e: Box<TemplateError>) -> Self {
        Stop::Err(e)
    }
}

pub(crate) type QueryFn<'q> = dyn FnMut(&str) -> Result<Vec<QuerySample>, String> + 'q;

pub(crate) struct Exec<'t, 'q> {
    pub(crate) tmpl: &'t Template,
    out: String,
    vars: Vec<(&'t str, Value)>,
    depth: usize,
    steps: u64,
    /// Name of the (sub)template being executed, for error messages.
    cur: &'t str,
    last_span: Span,
    pub(crate) query: &'q mut QueryFn<'q>,
    pub(crate) external_url: Rc<str>,
}

const NO_SPAN: Span = Span { start: 0, end: 0 };

pub(crate) fn execute<'q>(
    tmpl: &Template,
    data: &TemplateData<'_>,
    query: &'q mut QueryFn<'q>,
) -> ExecResult<String> {
    let labels = Rc::new(label_map(data.labels));
    let external = Rc::new(label_map(data.external_labels));
    let url: Rc<str> = Rc::from(data.external_url);
    let dot = Value::Data(Rc::new(Data {
        labels: labels.clone(),
        external_labels: external.clone(),
        external_url: url.clone(),
        value: data.value,
    }));
    let mut ex = Exec {
        tmpl,
        out: String::new(),
        vars: vec![
            ("$", dot.clone()),
            ("$labels", Value::Labels(labels)),
            ("$externalLabels", Value::Labels(external)),
            ("$externalURL", Value::Str(url.clone())),
            ("$value", Value::Float(data.value)),
        ],
        depth: 0,
        steps: 0,
        cur: &tmpl.name,
        last_span: NO_SPAN,
        query,
        external_url: url,
    };
    match ex.walk_list(&dot, &tmpl.parsed.root) {
        Ok(()) | Err(Stop::Break | Stop::Continue) => Ok(ex.out),
        Err(Stop::Err(e)) => Err(e),
    }
}

impl<'t, 'q> Exec<'t, 'q> {
    /// The full source text of a node, as Go's `Node.String()` in messages.
    fn node_text(&self, span: Span) -> String {
        self.tmpl
            .source
            .get(span.start..span.end)
            .unwrap_or("")
            .trim()
            .to_string()
    }

    fn context(&self, span: Span) -> String {
        let text = self
            .tmpl
            .source
            .get(span.start..span.end)
            .unwrap_or("")
            .trim();
        if text.chars().count() > 20 {
            format!("{}...", text.chars().take(20).collect::<String>())
        } else {
            text.to_string()
        }
    }

    pub(crate) fn error(&self, span: Span, kind: ErrorKind, msg: String) -> Box<TemplateError> {
        let (line, col) = super::line_col(&self.tmpl.source, span.start);
        Box::new(TemplateError {
            kind,
            template: self.tmpl.name.clone(),
            line,
            col,
            message: msg,
            executing: Some(self.cur.to_string()),
            context: Some(self.context(span)),
        })
    }

    fn fail<T>(&self, span: Span, msg: impl Into<String>) -> ExecResult<T> {
        Err(self.error(span, ErrorKind::Execute, msg.into()))
    }

    fn limit<T>(&self, span: Span, msg: impl Into<String>) -> ExecResult<T> {
        Err(self.error(span, ErrorKind::LimitExceeded, msg.into()))
    }

    /// Charges `n` steps against the execution budget.
    fn charge(&mut self, n: u64) -> ExecResult<()> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > self.tmpl.limits.max_steps {
            return self.limit(
                self.last_span,
                format!(
                    "template execution exceeded {} steps",
                    self.tmpl.limits.max_steps
                ),
            );
        }
        Ok(())
    }

    fn enter(&mut self, span: Span) -> ExecResult<()> {
        self.depth += 1;
        if self.depth > self.tmpl.limits.max_depth {
            return self.limit(
                span,
                format!(
                    "exceeded maximum template depth ({})",
                    self.tmpl.limits.max_depth
                ),
            );
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn write(&mut self, s: &str) -> ExecResult<()> {
        let max = self.tmpl.limits.max_output_bytes;
        if self.out.len().saturating_add(s.len()) > max {
            return self.limit(
                self.last_span,
                format!("template output exceeds {max} bytes"),
            );
        }
        self.out.push_str(s);
        Ok(())
    }

    /// Checks a value built by a function against the size limit.
    fn check_size(&self, v: &Value, span: Span) -> ExecResult<()> {
        let max = self.tmpl.limits.max_output_bytes;
        if v.approx_len() > max {
            return self.limit(span, format!("value exceeds {max} bytes"));
        }
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value, list: &'t [Node]) -> Result<(), Stop> {
        for n in list {
            self.walk(dot, n)?;
        }
        Ok(())
    }

    fn walk(&mut self, dot: &Value, node: &'t Node) -> Result<(), Stop> {
        self.charge(1)?;
        match node {
            Node::Text(t) => self.write(t)?,
            Node::Action(pipe) => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let s = match &v {
                        Value::Nil => Cow::Borrowed("<no value>"),
                        Value::Str(s) => Cow::Owned(s.to_string()),
                        other => Cow::Owned(print_action_value(other)),
                    };
                    self.write(&s)?;
                }
            }
            Node::If(c) => self.walk_if_with(dot, c, false)?,
            Node::With(c) => self.walk_if_with(dot, c, true)?,
            Node::Range(c) => self.walk_range(dot, c)?,
            Node::Template { span, name, pipe } => {
                self.walk_template(dot, *span, name, pipe.as_ref())?
            }
            Node::Break => return Err(Stop::Break),
            Node::Continue => return Err(Stop::Continue),
        }
        Ok(())
    }

    fn walk_if_with(&mut self, dot: &Value, c: &'t Control, with: bool) -> Result<(), Stop> {
        self.enter(c.pipe.span)?;
        let mark = self.vars.len();
        let r = (|| {
            let val = self.eval_pipeline(dot, &c.pipe)?;
            if val.truth() {
                self.walk_list(if with { &val } else { dot }, &c.list)
            } else if let Some(e) = &c.else_list {
                self.walk_list(dot, e)
            } else {
                Ok(())
            }
        })();
        self.vars.truncate(mark);
        self.leave();
        r
    }

    fn set_top_var(&mut self, n: usize, v: Value) {
        let len = self.vars.len();
        if let Some(slot) = len.checked_sub(n).and_then(|i| self.vars.get_mut(i)) {
            slot.1 = v;
        }
    }

    fn walk_range(&mut self, dot: &Value, c: &'t Control) -> Result<(), Stop> {
        self.enter(c.pipe.span)?;
        let mark = self.vars.len();
        let r = self.range_inner(dot, c);
        self.vars.truncate(mark);
        self.leave();
        r
    }

    fn range_inner(&mut self, dot: &Value, c: &'t Control) -> Result<(), Stop> {
        let span = c.pipe.span;
        let val = self.eval_pipeline(dot, &c.pipe)?;
        let inner_mark = self.vars.len();
        let len = match &val {
            Value::Samples(s) => s.len(),
            Value::Labels(m) => m.len(),
            Value::Map(m) => m.entries.len(),
            Value::Int(n) => {
                if c.pipe.decl.len() > 1 {
                    let msg = format!("can't use {n} to iterate over more than one variable");
                    return Err(self.error(span, ErrorKind::Execute, msg).into());
                }
                usize::try_from(*n).unwrap_or(0)
            }
            Value::Nil => 0,
            other => {
                let msg = format!("range can't iterate over {}", range_desc(other));
                return Err(self.error(span, ErrorKind::Execute, msg).into());
            }
        };
        for i in 0..len {
            self.charge(1)?;
            let (index, elem) = match &val {
                Value::Samples(s) => (
                    Value::Int(i as i64),
                    s.get(i).map_or(Value::Nil, |x| Value::Sample(x.clone())),
                ),
                Value::Labels(m) => m.get(i).map_or((Value::Nil, Value::Nil), |(k, v)| {
                    (Value::str(k), Value::str(v))
                }),
                Value::Map(m) => m.entries.get(i).map_or((Value::Nil, Value::Nil), |(k, v)| {
                    (Value::str(k), v.clone())
                }),
                _ => (Value::Int(i as i64), Value::Int(i as i64)),
            };
            let decl = &c.pipe.decl;
            if !decl.is_empty() {
                if c.pipe.is_assign {
                    let (first, v) = if decl.len() > 1 {
                        (&decl[0], index.clone())
                    } else {
                        (&decl[0], elem.clone())
                    };
                    self.set_var(first, v, span)?;
                } else {
                    self.set_top_var(1, elem.clone());
                }
            }
            if decl.len() > 1 {
                if c.pipe.is_assign {
                    self.set_var(&decl[1], elem.clone(), span)?;
                } else {
                    self.set_top_var(2, index);
                }
            }
            let r = self.walk_list(&elem, &c.list);
            self.vars.truncate(inner_mark);
            match r {
                Ok(()) | Err(Stop::Continue) => {}
                Err(Stop::Break) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        if len == 0
            && let Some(e) = &c.else_list
        {
            return self.walk_list(dot, e);
        }
        Ok(())
    }

    fn walk_template(
        &mut self,
        dot: &Value,
        span: Span,
        name: &'t str,
        pipe: Option<&'t Pipe>,
    ) -> Result<(), Stop> {
        let Some(body) = self.tmpl.parsed.defs.get(name) else {
            let msg = format!("template {name:?} not defined");
            return Err(self.error(span, ErrorKind::Execute, msg).into());
        };
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        self.enter(span)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$", new_dot.clone())]);
        let saved_cur = std::mem::replace(&mut self.cur, name);
        let r = self.walk_list(&new_dot, body);
        self.vars = saved_vars;
        self.cur = saved_cur;
        self.leave();
        match r {
            Err(Stop::Err(e)) => Err(Stop::Err(e)),
            _ => Ok(()),
        }
    }

    fn var_value(&self, name: &str, span: Span) -> ExecResult<Value> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.fail(span, format!("undefined variable: {name}")),
        }
    }

    fn set_var(&mut self, name: &str, v: Value, span: Span) -> ExecResult<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => self.fail(span, format!("undefined variable: {name}")),
        }
    }

    pub(crate) fn eval_pipeline(&mut self, dot: &Value, pipe: &'t Pipe) -> ExecResult<Value> {
        let mut val = None;
        for cmd in &pipe.cmds {
            self.last_span = cmd.span;
            self.charge(1)?;
            val = Some(self.eval_command(dot, &cmd.args, val)?);
        }
        let v = val.unwrap_or(Value::Nil);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, v.clone(), pipe.span)?;
            } else {
                self.vars.push((name.as_str(), v.clone()));
            }
        }
        Ok(v)
    }

    fn not_a_function(&self, args: &[Arg], fin: &Option<Value>) -> ExecResult<()> {
        if args.len() > 1 || fin.is_some() {
            let mut span = args.first().map_or(NO_SPAN, Arg::span);
            if let Some(Arg::Pipe(..)) = args.first() {
                // Go prints a parenthesized pipeline without its parentheses here.
                span = Span {
                    start: span.start + 1,
                    end: span.end.saturating_sub(1).max(span.start + 1),
                };
            }
            return self.fail(
                span,
                format!(
                    "can't give argument to non-function {}",
                    self.node_text(span)
                ),
            );
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> ExecResult<Value> {
        let Some(first) = args.first() else {
            return self.fail(self.last_span, "empty command");
        };
        match first {
            Arg::Field(span, idents) => {
                self.eval_field_chain(dot, dot.clone(), *span, idents, args, fin)
            }
            Arg::Chain(span, base, fields) => self.eval_chain(dot, *span, base, fields, args, fin),
            Arg::Ident(span, f) => {
                self.eval_call(dot, *f, *span, args.get(1..).unwrap_or(&[]), fin)
            }
            Arg::Variable(span, name, fields) => {
                self.eval_variable(dot, *span, name, fields, args, fin)
            }
            Arg::Pipe(span, p) => {
                self.not_a_function(args, &fin)?;
                self.enter(*span)?;
                let r = self.eval_pipeline(dot, p);
                self.leave();
                r
            }
            Arg::Bool(_, b) => {
                self.not_a_function(args, &fin)?;
                Ok(Value::Bool(*b))
            }
            Arg::Dot(_) => {
                self.not_a_function(args, &fin)?;
                Ok(dot.clone())
            }
            Arg::Nil(span) => {
                self.not_a_function(args, &fin)?;
                self.fail(*span, "nil is not a command")
            }
            Arg::Number(span, n) => {
                self.not_a_function(args, &fin)?;
                self.ideal_constant(n, *span)
            }
            Arg::Str(_, s) => {
                self.not_a_function(args, &fin)?;
                Ok(Value::str(s))
            }
        }
    }

    fn ideal_constant(&self, n: &Number, span: Span) -> ExecResult<Value> {
        let t = n.text.as_str();
        let b = t.as_bytes();
        let is_hex_int =
            b.len() > 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X') && !t.contains(['p', 'P']);
        let is_rune = t.starts_with('\'');
        if let Some(f) = n.float
            && !is_hex_int
            && !is_rune
            && t.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        if n.uint.is_some() {
            return self.fail(span, format!("{t} overflows int"));
        }
        Ok(Value::Nil)
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        span: Span,
        name: &str,
        fields: &'t [String],
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> ExecResult<Value> {
        let v = self.var_value(name, span)?;
        if fields.is_empty() {
            self.not_a_function(args, &fin)?;
            return Ok(v);
        }
        self.eval_field_chain(dot, v, span, fields, args, fin)
    }

    fn eval_chain(
        &mut self,
        dot: &Value,
        span: Span,
        base: &'t Arg,
        fields: &'t [String],
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> ExecResult<Value> {
        if let Arg::Nil(_) = base {
            return self.fail(
                span,
                format!(
                    "indirection through explicit nil in {}",
                    self.node_text(span)
                ),
            );
        }
        let v = self.eval_arg(dot, None, base)?;
        self.eval_field_chain(dot, v, span, fields, args, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        recv: Value,
        span: Span,
        idents: &'t [String],
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> ExecResult<Value> {
        let mut r = recv;
        let n = idents.len();
        // Whether `r` came out of an `interface{}`-typed field or map element: Go
        // then names `interface {}` in errors, and a nil one cannot be indirected.
        let mut iface = false;
        for (i, id) in idents.iter().enumerate() {
            let next_iface = matches!(r, Value::Map(_))
                || (id == "Value" && matches!(r, Value::Data(_) | Value::Sample(_)));
            if iface {
                if let Value::Nil = r {
                    return self.fail(span, format!("nil pointer evaluating interface {{}}.{id}"));
                }
                if !matches!(
                    r,
                    Value::Time(_)
                        | Value::Labels(_)
                        | Value::Map(_)
                        | Value::Data(_)
                        | Value::Sample(_)
                ) {
                    return self.fail(
                        span,
                        format!("can't evaluate field {id} in type interface {{}}"),
                    );
                }
            }
            if i + 1 < n {
                r = self.eval_field(dot, id, span, &[], None, r)?;
            } else {
                return self.eval_field(dot, id, span, args, fin, r);
            }
            iface = next_iface;
        }
        Ok(r)
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        span: Span,
        args: &'t [Arg],
        fin: Option<Value>,
        recv: Value,
    ) -> ExecResult<Value> {
        let has_args = args.len() > 1 || fin.is_some();
        let field = match &recv {
            Value::Nil => return Ok(Value::Nil),
            Value::Time(t) => return self.time_method(dot, *t, name, span, args, fin),
            Value::Data(d) => match name {
                "Labels" => Value::Labels(d.labels.clone()),
                "ExternalLabels" => Value::Labels(d.external_labels.clone()),
                "ExternalURL" => Value::Str(d.external_url.clone()),
                "Value" => Value::Float(d.value),
                _ => self.no_field(span, name, &recv)?,
            },
            Value::Sample(s) => match name {
                "Labels" => Value::Labels(s.labels.clone()),
                "Value" => Value::Float(s.value),
                _ => self.no_field(span, name, &recv)?,
            },
            Value::Labels(m) => {
                if has_args {
                    return self.fail(span, format!("{name} is not a method but has arguments"));
                }
                return Ok(Value::str(label_get(m, name).unwrap_or("")));
            }
            Value::Map(m) => {
                if has_args {
                    return self.fail(span, format!("{name} is not a method but has arguments"));
                }
                return Ok(m
                    .entries
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or(Value::Nil, |(_, v)| v.clone()));
            }
            other => return self.no_field(span, name, other),
        };
        if has_args {
            return self.fail(
                span,
                format!("{name} has arguments but cannot be invoked as function"),
            );
        }
        Ok(field)
    }

    fn no_field(&self, span: Span, name: &str, recv: &Value) -> ExecResult<Value> {
        self.fail(
            span,
            format!("can't evaluate field {name} in type {}", recv.type_name()),
        )
    }

    fn time_method(
        &mut self,
        dot: &Value,
        t: Time,
        name: &str,
        span: Span,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> ExecResult<Value> {
        let want = match name {
            "Format" => 1,
            "UTC" | "Local" | "String" => 0,
            _ if t.int_method(name).is_some() => 0,
            _ => return self.no_field(span, name, &Value::Time(t)),
        };
        let call_args = args.get(1..).unwrap_or(&[]);
        let got = call_args.len() + usize::from(fin.is_some());
        if got != want {
            return self.fail(
                span,
                format!("wrong number of args for {name}: want {want} got {got}"),
            );
        }
        let mut argv = Vec::new();
        for a in call_args {
            argv.push(self.eval_arg(dot, Some(Param::Str), a)?);
        }
        if let Some(f) = fin {
            argv.push(self.validate(f, Some(Param::Str), span)?);
        }
        Ok(match name {
            "Format" => match argv.first() {
                Some(Value::Str(layout)) => {
                    let v = Value::string(t.format(layout));
                    self.check_size(&v, span)?;
                    v
                }
                _ => Value::Nil,
            },
            "UTC" | "Local" => Value::Time(t),
            "String" => Value::string(t.to_string()),
            _ => Value::Int(t.int_method(name).unwrap_or(0)),
        })
    }

    fn eval_call(
        &mut self,
        dot: &Value,
        f: Func,
        span: Span,
        args: &'t [Arg],
        fin: Option<Value>,
    ) -> ExecResult<Value> {
        let sig = f.sig();
        let name = f.name();
        let fixed = sig.fixed.len();
        let num_in = args.len() + usize::from(fin.is_some());
        if sig.variadic.is_some() {
            if num_in < fixed {
                return self.fail(
                    span,
                    format!(
                        "wrong number of args for {name}: want at least {fixed} got {}",
                        args.len()
                    ),
                );
            }
        } else if num_in != fixed {
            return self.fail(
                span,
                format!("wrong number of args for {name}: want {fixed} got {num_in}"),
            );
        }
        if matches!(f, Func::And | Func::Or) {
            let is_or = f == Func::Or;
            let mut v = Value::Nil;
            for a in args {
                v = self.eval_arg(dot, Some(Param::Value), a)?;
                if v.truth() == is_or {
                    return Ok(v);
                }
            }
            if let Some(fv) = fin {
                v = fv;
            }
            return Ok(v);
        }
        let param = |i: usize| {
            sig.fixed
                .get(i)
                .copied()
                .or(sig.variadic)
                .unwrap_or(Param::Any)
        };
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            argv.push(self.eval_arg(dot, Some(param(i)), a)?);
        }
        if let Some(fv) = fin {
            let t = param(num_in - 1);
            argv.push(self.validate(fv, Some(t), span)?);
        }
        self.last_span = span;
        self.charge(1)?;
        match self.call_func(f, argv) {
            Ok(v) => {
                self.check_size(&v, span)?;
                if let Value::Samples(s) = &v {
                    self.charge(s.len() as u64)?;
                }
                Ok(v)
            }
            Err(msg) => self.fail(span, format!("error calling {name}: {msg}")),
        }
    }

    fn eval_arg(&mut self, dot: &Value, typ: Option<Param>, arg: &'t Arg) -> ExecResult<Value> {
        let span = arg.span();
        let v = match arg {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => {
                return match typ {
                    Some(Param::Str) => self.fail(span, "cannot assign nil to string"),
                    Some(Param::Samples) => Ok(Value::Samples(Rc::new(Vec::new()))),
                    _ => Ok(Value::Nil),
                };
            }
            Arg::Field(_, ids) => {
                self.eval_field_chain(dot, dot.clone(), span, ids, std::slice::from_ref(arg), None)?
            }
            Arg::Variable(_, name, fields) => {
                self.eval_variable(dot, span, name, fields, &[], None)?
            }
            Arg::Pipe(_, p) => {
                self.enter(span)?;
                let r = self.eval_pipeline(dot, p);
                self.leave();
                r?
            }
            Arg::Ident(_, f) => self.eval_call(dot, *f, span, &[], None)?,
            Arg::Chain(_, base, fields) => self.eval_chain(dot, span, base, fields, &[], None)?,
            Arg::Bool(_, b) => {
                return match typ {
                    Some(Param::Str) => self.fail(
                        span,
                        format!("expected string; found {}", self.node_text(span)),
                    ),
                    Some(Param::Samples | Param::Sample) => self.cant_handle(span, typ),
                    _ => Ok(Value::Bool(*b)),
                };
            }
            Arg::Number(_, n) => {
                return match typ {
                    Some(Param::Str) => self.fail(
                        span,
                        format!("expected string; found {}", self.node_text(span)),
                    ),
                    Some(Param::Samples | Param::Sample) => self.cant_handle(span, typ),
                    _ => self.ideal_constant(n, span),
                };
            }
            Arg::Str(_, s) => {
                return match typ {
                    Some(Param::Samples | Param::Sample) => self.cant_handle(span, typ),
                    _ => Ok(Value::str(s)),
                };
            }
        };
        self.validate(v, typ, span)
    }

    fn cant_handle(&self, span: Span, typ: Option<Param>) -> ExecResult<Value> {
        let t = typ.map_or("interface {}", Param::type_name);
        self.fail(
            span,
            format!("can't handle {} for arg of type {t}", self.node_text(span)),
        )
    }

    fn validate(&self, v: Value, typ: Option<Param>, span: Span) -> ExecResult<Value> {
        let Some(t) = typ else { return Ok(v) };
        let ok = match (&v, t) {
            (_, Param::Any | Param::Value) => true,
            (Value::Nil, Param::Str) => {
                return self.fail(span, "invalid value; expected string");
            }
            (Value::Nil, Param::Samples) => return Ok(Value::Samples(Rc::new(Vec::new()))),
            (Value::Nil, Param::Sample) => true,
            (Value::Str(_), Param::Str) => true,
            (Value::Samples(_), Param::Samples) => true,
            (Value::Sample(_), Param::Sample) => true,
            _ => false,
        };
        if ok {
            Ok(v)
        } else {
            self.fail(
                span,
                format!(
                    "wrong type for value; expected {}; got {}",
                    t.type_name(),
                    v.type_name()
                ),
            )
        }
    }
}

/// How Go's `%v` renders a value in "range can't iterate over" errors.
fn range_desc(v: &Value) -> String {
    sprint_value(v)
}
