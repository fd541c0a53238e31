//! The rule condition language: a small, safe expression language parsed by
//! hand into an AST and evaluated over the attributes and controls of an
//! element or data flow.
//!
//! ```text
//! expr    := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | compare
//! compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") operand)?
//! operand := literal | path | "(" expr ")" | "[" literal ("," literal)* "]"
//! path    := ("element" | "flow" | "source" | "target") "." field
//! literal := "string" | 'string' | number | true | false | null
//! ```
//!
//! A missing attribute reads as `null`; `==` between values of different
//! types is false (so `element.x == false` does not hold when `x` is
//! missing); `in` tests list membership or substring; `and`/`or`/`not` use
//! truthiness (false, null, 0, "" and [] are false).
//!
//! Deliberately absent: function calls, assignment, loops, any evaluation of
//! host code. Every expression is bounded ([`EXPR_BYTES_MAX`],
//! [`EXPR_DEPTH_MAX`]), so evaluation is linear in its size.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest condition accepted, in bytes.
pub const EXPR_BYTES_MAX: usize = 4096;
/// Deepest nesting of parentheses, `not` and operators accepted.
pub const EXPR_DEPTH_MAX: usize = 32;

/// A value of an attribute, a literal or a computed field.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Value {
    /// true or false.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(String),
    /// A list of values.
    List(Vec<Value>),
    /// Absent (a missing attribute).
    Null,
}

/// Read by hand rather than as an untagged enum, so that a map (attributes
/// are flat) is refused with a message that says so, at its position.
impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true or false, a number, a string or a list")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Num(v as f64))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Num(v as f64))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Num(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _map: A) -> Result<Value, A::Error> {
        Err(serde::de::Error::custom(
            "attributes are flat: a value is true or false, a number, a string or a list, not a map",
        ))
    }
}

impl Value {
    /// Truthiness: false, null, 0, "" and [] are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Null => false,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Num(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Null => f.write_str("null"),
        }
    }
}

static NULL: Value = Value::Null;
static TRUE: Value = Value::Bool(true);
static FALSE: Value = Value::Bool(false);
static EMPTY: Value = Value::List(Vec::new());

/// The record an expression path starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Root {
    /// The element a rule is evaluated on.
    Element,
    /// The data flow a rule is evaluated on.
    Flow,
    /// The flow's source element.
    Source,
    /// The flow's target element.
    Target,
}

impl Root {
    fn parse(s: &str) -> Option<Root> {
        match s {
            "element" => Some(Root::Element),
            "flow" => Some(Root::Flow),
            "source" => Some(Root::Source),
            "target" => Some(Root::Target),
            _ => None,
        }
    }

    /// The name written in expressions.
    pub fn as_str(self) -> &'static str {
        match self {
            Root::Element => "element",
            Root::Flow => "flow",
            Root::Source => "source",
            Root::Target => "target",
        }
    }
}

/// A parse error, at a 1-based line and column of the expression text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ExprError {
    /// Line within the expression (1-based).
    pub line: usize,
    /// Column within the line, in characters (1-based).
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `not in`
    NotIn,
}

/// The AST of a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal (lists of literals included).
    Lit(Value),
    /// `root.field`.
    Path(Root, String),
    /// `not e`.
    Not(Box<Expr>),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a OP b`.
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
}

/// Where paths are looked up during evaluation.
pub trait Scope {
    /// The value of `root.field`, or `None` when absent (read as null).
    fn lookup(&self, root: Root, field: &str) -> Option<&Value>;
}

/// A scope over ready-made records, one map per root (tests, fuzzing).
#[derive(Debug, Default, Clone)]
pub struct MapScope(pub BTreeMap<Root, BTreeMap<String, Value>>);

impl Scope for MapScope {
    fn lookup(&self, root: Root, field: &str) -> Option<&Value> {
        self.0.get(&root).and_then(|m| m.get(field))
    }
}

/// A scope that hides every `controls` field of another scope (reads as an
/// empty list): evaluating under it tells whether controls in place are
/// what keeps a condition false.
pub struct WithoutControls<'a, S: Scope + ?Sized>(pub &'a S);

impl<S: Scope + ?Sized> Scope for WithoutControls<'_, S> {
    fn lookup(&self, root: Root, field: &str) -> Option<&Value> {
        if field == "controls" {
            Some(&EMPTY)
        } else {
            self.0.lookup(root, field)
        }
    }
}

impl Expr {
    /// Parses a condition.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        if text.len() > EXPR_BYTES_MAX {
            return Err(ExprError {
                line: 1,
                col: 1,
                message: format!("condition longer than {EXPR_BYTES_MAX} bytes"),
            });
        }
        let tokens = lex(text)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
        };
        let e = p.expr()?;
        match p.peek() {
            Tok::End => Ok(e),
            t => Err(p.error(format!(
                "unexpected {} after the end of the condition",
                t.describe()
            ))),
        }
    }

    /// Every root the expression reads.
    pub fn roots(&self) -> Vec<Root> {
        let mut out = Vec::new();
        self.walk_roots(&mut out);
        out.sort();
        out.dedup();
        out
    }

    /// Every `root.field` path the expression reads, in order of
    /// appearance, repeats included.
    pub fn paths(&self) -> Vec<(Root, &str)> {
        let mut out = Vec::new();
        self.walk_paths(&mut out);
        out
    }

    fn walk_paths<'a>(&'a self, out: &mut Vec<(Root, &'a str)>) {
        match self {
            Expr::Lit(_) => {}
            Expr::Path(r, f) => out.push((*r, f.as_str())),
            Expr::Not(e) => e.walk_paths(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                a.walk_paths(out);
                b.walk_paths(out);
            }
        }
    }

    fn walk_roots(&self, out: &mut Vec<Root>) {
        match self {
            Expr::Lit(_) => {}
            Expr::Path(r, _) => out.push(*r),
            Expr::Not(e) => e.walk_roots(out),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                a.walk_roots(out);
                b.walk_roots(out);
            }
        }
    }

    /// Whether the condition holds in `scope`.
    pub fn eval(&self, scope: &(impl Scope + ?Sized)) -> bool {
        match self {
            Expr::Not(e) => !e.eval(scope),
            Expr::And(a, b) => a.eval(scope) && b.eval(scope),
            Expr::Or(a, b) => a.eval(scope) || b.eval(scope),
            Expr::Cmp(op, a, b) => compare(*op, a.operand(scope), b.operand(scope)),
            Expr::Lit(v) => v.truthy(),
            Expr::Path(r, f) => scope.lookup(*r, f).is_some_and(Value::truthy),
        }
    }

    fn operand<'a>(&'a self, scope: &'a (impl Scope + ?Sized)) -> &'a Value {
        match self {
            Expr::Lit(v) => v,
            Expr::Path(r, f) => scope.lookup(*r, f).unwrap_or(&NULL),
            other => {
                if other.eval(scope) {
                    &TRUE
                } else {
                    &FALSE
                }
            }
        }
    }
}

fn compare(op: CmpOp, a: &Value, b: &Value) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let ord = match (a, b) {
                (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
                (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
                _ => None,
            };
            match ord {
                None => false,
                Some(o) => match op {
                    CmpOp::Lt => o.is_lt(),
                    CmpOp::Le => o.is_le(),
                    CmpOp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                },
            }
        }
        CmpOp::In => contains(b, a),
        CmpOp::NotIn => !contains(b, a),
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match (haystack, needle) {
        (Value::List(l), n) => l.contains(n),
        (Value::Str(h), Value::Str(n)) => h.contains(n.as_str()),
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Op(&'static str),
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Op(o) => format!("`{o}`"),
            Tok::End => "end of condition".into(),
        }
    }
}

struct Token {
    tok: Tok,
    line: usize,
    col: usize,
}

fn lex(text: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let err = |line, col, message: String| ExprError { line, col, message };
    while let Some(&c) = chars.get(i) {
        let (tl, tc) = (line, col);
        if c == '\n' {
            i += 1;
            line += 1;
            col = 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            col += 1;
            continue;
        }
        let two: String = chars.iter().skip(i).take(2).collect();
        let op: Option<&'static str> = match two.as_str() {
            "==" => Some("=="),
            "!=" => Some("!="),
            "<=" => Some("<="),
            ">=" => Some(">="),
            _ => match c {
                '<' => Some("<"),
                '>' => Some(">"),
                '(' => Some("("),
                ')' => Some(")"),
                '[' => Some("["),
                ']' => Some("]"),
                ',' => Some(","),
                '.' => Some("."),
                _ => None,
            },
        };
        if let Some(op) = op {
            out.push(Token {
                tok: Tok::Op(op),
                line: tl,
                col: tc,
            });
            i += op.len();
            col += op.len();
        } else if c == '"' || c == '\'' {
            let mut s = String::new();
            i += 1;
            col += 1;
            loop {
                match chars.get(i) {
                    None | Some('\n') => {
                        return Err(err(tl, tc, "unterminated string".into()));
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        col += 1;
                        break;
                    }
                    Some('\\') => {
                        match chars.get(i + 1) {
                            Some(&e @ ('\\' | '"' | '\'')) => s.push(e),
                            _ => {
                                return Err(err(
                                    line,
                                    col,
                                    "unknown escape (only \\\\, \\\" and \\' are allowed)".into(),
                                ))
                            }
                        }
                        i += 2;
                        col += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                        col += 1;
                    }
                }
            }
            out.push(Token {
                tok: Tok::Str(s),
                line: tl,
                col: tc,
            });
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while chars
                .get(i)
                .is_some_and(|d| d.is_ascii_digit() || *d == '.')
            {
                i += 1;
            }
            let s: String = chars.get(start..i).unwrap_or_default().iter().collect();
            let n: f64 = s
                .parse()
                .map_err(|_| err(tl, tc, format!("invalid number {s:?}")))?;
            col += i - start;
            out.push(Token {
                tok: Tok::Num(n),
                line: tl,
                col: tc,
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|d| d.is_ascii_alphanumeric() || *d == '_' || *d == '-')
            {
                i += 1;
            }
            let s: String = chars.get(start..i).unwrap_or_default().iter().collect();
            col += i - start;
            out.push(Token {
                tok: Tok::Ident(s),
                line: tl,
                col: tc,
            });
        } else {
            let hint = match c {
                '=' => " (use `==` to compare)",
                '&' | '|' | '!' => " (use `and`, `or`, `not`)",
                _ => "",
            };
            return Err(err(tl, tc, format!("unexpected character {c:?}{hint}")));
        }
    }
    out.push(Token {
        tok: Tok::End,
        line,
        col,
    });
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::End, |t| &t.tok)
    }

    fn peek2(&self) -> &Tok {
        self.tokens.get(self.pos + 1).map_or(&Tok::End, |t| &t.tok)
    }

    fn error(&self, message: String) -> ExprError {
        let (line, col) = self
            .tokens
            .get(self.pos)
            .or(self.tokens.last())
            .map_or((1, 1), |t| (t.line, t.col));
        ExprError { line, col, message }
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > EXPR_DEPTH_MAX {
            return Err(self.error(format!("condition nested deeper than {EXPR_DEPTH_MAX}")));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        self.enter()?;
        let mut e = self.and()?;
        while self.is_kw("or") {
            self.bump();
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        self.depth -= 1;
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.unary()?;
        while self.is_kw("and") {
            self.bump();
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.is_kw("not") {
            self.enter()?;
            self.bump();
            let e = Expr::Not(Box::new(self.unary()?));
            self.depth -= 1;
            return Ok(e);
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, ExprError> {
        let a = self.operand()?;
        let op = match self.peek() {
            Tok::Op("==") => Some(CmpOp::Eq),
            Tok::Op("!=") => Some(CmpOp::Ne),
            Tok::Op("<") => Some(CmpOp::Lt),
            Tok::Op("<=") => Some(CmpOp::Le),
            Tok::Op(">") => Some(CmpOp::Gt),
            Tok::Op(">=") => Some(CmpOp::Ge),
            Tok::Ident(s) if s == "in" => Some(CmpOp::In),
            Tok::Ident(s) if s == "not" && matches!(self.peek2(), Tok::Ident(t) if t == "in") => {
                self.bump();
                Some(CmpOp::NotIn)
            }
            _ => None,
        };
        match op {
            None => Ok(a),
            Some(op) => {
                self.bump();
                let b = self.operand()?;
                Ok(Expr::Cmp(op, Box::new(a), Box::new(b)))
            }
        }
    }

    fn literal(&mut self) -> Result<Option<Value>, ExprError> {
        let v = match self.peek() {
            Tok::Str(s) => Value::Str(s.clone()),
            Tok::Num(n) => Value::Num(*n),
            Tok::Ident(s) if s == "true" => Value::Bool(true),
            Tok::Ident(s) if s == "false" => Value::Bool(false),
            Tok::Ident(s) if s == "null" => Value::Null,
            _ => return Ok(None),
        };
        self.bump();
        Ok(Some(v))
    }

    fn operand(&mut self) -> Result<Expr, ExprError> {
        if let Some(v) = self.literal()? {
            return Ok(Expr::Lit(v));
        }
        match self.peek().clone() {
            Tok::Op("(") => {
                self.bump();
                let e = self.expr()?;
                if self.peek() != &Tok::Op(")") {
                    return Err(
                        self.error(format!("expected `)`, found {}", self.peek().describe()))
                    );
                }
                self.bump();
                Ok(e)
            }
            Tok::Op("[") => {
                self.bump();
                let mut items = Vec::new();
                if self.peek() != &Tok::Op("]") {
                    loop {
                        match self.literal()? {
                            Some(v) => items.push(v),
                            None => {
                                return Err(self.error(format!(
                                    "list items must be literals, found {}",
                                    self.peek().describe()
                                )))
                            }
                        }
                        match self.peek() {
                            Tok::Op(",") => {
                                self.bump();
                            }
                            Tok::Op("]") => break,
                            t => {
                                return Err(self
                                    .error(format!("expected `,` or `]`, found {}", t.describe())))
                            }
                        }
                    }
                }
                self.bump();
                Ok(Expr::Lit(Value::List(items)))
            }
            Tok::Ident(name) => {
                let Some(root) = Root::parse(&name) else {
                    return Err(self.error(format!(
                        "unknown name `{name}` (paths start with element., flow., source. or target.)"
                    )));
                };
                self.bump();
                if self.peek() != &Tok::Op(".") {
                    return Err(self.error(format!("expected `.` and a field after `{name}`")));
                }
                self.bump();
                let field = match self.bump() {
                    Tok::Ident(f) => f,
                    t => {
                        self.pos = self.pos.saturating_sub(1);
                        return Err(
                            self.error(format!("expected a field name, found {}", t.describe()))
                        );
                    }
                };
                if self.peek() == &Tok::Op(".") {
                    return Err(self.error(format!(
                        "paths have the form {name}.field (attributes are flat)"
                    )));
                }
                Ok(Expr::Path(root, field))
            }
            t => Err(self.error(format!(
                "expected a value or a path, found {}",
                t.describe()
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
