//! The subset of CEL that the NIM Operator's CRDs use in
//! `x-kubernetes-validations`, evaluated over JSON data.
//!
//! Supported: `self` (and `oldSelf`, which marks a transition rule, skipped on
//! create), field selection, `has(...)`, `size(...)`, integer, string and
//! boolean literals, `! - + * == != < <= > >= && ||`, `?:` and parentheses.
//! Anything else is a parse error, and a test checks that every rule in the
//! embedded CRDs parses, so a newer CRD with a new construct fails loudly.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Int(i64),
    Str(String),
    Op(&'static str),
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    const OPS: &[&str] = &[
        "&&", "||", "==", "!=", "<=", ">=", "!", "<", ">", "+", "-", "*", "?", ":", "(", ")", ".",
    ];
    while i < b.len() {
        let c = b[i] as char;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let s = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(src[s..i].to_string()));
        } else if c.is_ascii_digit() {
            let s = i;
            while i < b.len() && (b[i] as char).is_ascii_digit() {
                i += 1;
            }
            out.push(Tok::Int(src[s..i].parse().map_err(|e| format!("{e}"))?));
        } else if c == '\'' || c == '"' {
            let s = i + 1;
            let end = src[s..].find(c).ok_or("unterminated string")? + s;
            out.push(Tok::Str(src[s..end].to_string()));
            i = end + 1;
        } else if let Some(op) = OPS.iter().find(|op| src[i..].starts_with(**op)) {
            out.push(Tok::Op(op));
            i += op.len();
        } else {
            return Err(format!("unsupported character {c:?} in CEL rule"));
        }
    }
    Ok(out)
}

/// A parsed expression.
#[derive(Clone, Debug, PartialEq)]
enum Expr {
    Lit(Value),
    Self_,
    OldSelf,
    Select(Box<Expr>, String),
    Has(Box<Expr>, String),
    Size(Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Bin(&'static str, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek_op(&self, op: &str) -> bool {
        matches!(self.toks.get(self.at), Some(Tok::Op(o)) if *o == op)
    }
    fn eat(&mut self, op: &str) -> Result<(), String> {
        if self.peek_op(op) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected {op:?} at token {}", self.at))
        }
    }
    fn expr(&mut self) -> Result<Expr, String> {
        let c = self.or()?;
        if self.peek_op("?") {
            self.at += 1;
            let a = self.expr()?;
            self.eat(":")?;
            let b = self.expr()?;
            return Ok(Expr::Cond(Box::new(c), Box::new(a), Box::new(b)));
        }
        Ok(c)
    }
    fn binary(
        &mut self,
        ops: &[&'static str],
        next: fn(&mut Parser) -> Result<Expr, String>,
    ) -> Result<Expr, String> {
        let mut l = next(self)?;
        while let Some(op) = ops.iter().find(|o| self.peek_op(o)) {
            self.at += 1;
            let r = next(self)?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn or(&mut self) -> Result<Expr, String> {
        self.binary(&["||"], Parser::and)
    }
    fn and(&mut self) -> Result<Expr, String> {
        self.binary(&["&&"], Parser::rel)
    }
    fn rel(&mut self) -> Result<Expr, String> {
        self.binary(&["==", "!=", "<=", ">=", "<", ">"], Parser::add)
    }
    fn add(&mut self) -> Result<Expr, String> {
        self.binary(&["+", "-"], Parser::mul)
    }
    fn mul(&mut self) -> Result<Expr, String> {
        self.binary(&["*"], Parser::unary)
    }
    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_op("!") {
            self.at += 1;
            return Ok(Expr::Not(Box::new(self.unary()?)));
        }
        if self.peek_op("-") {
            self.at += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.member()
    }
    fn member(&mut self) -> Result<Expr, String> {
        let mut e = self.primary()?;
        while self.peek_op(".") {
            self.at += 1;
            match self.toks.get(self.at).cloned() {
                Some(Tok::Ident(f)) => {
                    self.at += 1;
                    e = Expr::Select(Box::new(e), f);
                }
                _ => return Err("expected a field name after '.'".into()),
            }
        }
        Ok(e)
    }
    fn primary(&mut self) -> Result<Expr, String> {
        let t = self
            .toks
            .get(self.at)
            .cloned()
            .ok_or("unexpected end of rule")?;
        self.at += 1;
        match t {
            Tok::Int(i) => Ok(Expr::Lit(Value::from(i))),
            Tok::Str(s) => Ok(Expr::Lit(Value::String(s))),
            Tok::Op("(") => {
                let e = self.expr()?;
                self.eat(")")?;
                Ok(e)
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Ok(Expr::Lit(Value::Bool(true))),
                "false" => Ok(Expr::Lit(Value::Bool(false))),
                "self" => Ok(Expr::Self_),
                "oldSelf" => Ok(Expr::OldSelf),
                "has" => {
                    self.eat("(")?;
                    let e = self.member()?;
                    self.eat(")")?;
                    match e {
                        Expr::Select(obj, f) => Ok(Expr::Has(obj, f)),
                        _ => Err("has() needs a field selection".into()),
                    }
                }
                "size" => {
                    self.eat("(")?;
                    let e = self.expr()?;
                    self.eat(")")?;
                    Ok(Expr::Size(Box::new(e)))
                }
                other => Err(format!("unsupported identifier {other:?} in CEL rule")),
            },
            Tok::Op(o) => Err(format!("unexpected {o:?} in CEL rule")),
        }
    }
}

fn parse(rule: &str) -> Result<Expr, String> {
    let mut p = Parser {
        toks: lex(rule)?,
        at: 0,
    };
    let e = p.expr()?;
    if p.at != p.toks.len() {
        return Err(format!("unexpected trailing tokens in CEL rule {rule:?}"));
    }
    Ok(e)
}

fn mentions_old_self(e: &Expr) -> bool {
    match e {
        Expr::OldSelf => true,
        Expr::Lit(_) | Expr::Self_ => false,
        Expr::Select(a, _) | Expr::Has(a, _) | Expr::Size(a) | Expr::Not(a) | Expr::Neg(a) => {
            mentions_old_self(a)
        }
        Expr::Bin(_, a, b) => mentions_old_self(a) || mentions_old_self(b),
        Expr::Cond(a, b, c) => mentions_old_self(a) || mentions_old_self(b) || mentions_old_self(c),
    }
}

/// Whether `rule` compares with `oldSelf` (a transition rule: evaluated on
/// update only, so never when admitting a new object).
pub fn is_transition_rule(rule: &str) -> bool {
    parse(rule).is_ok_and(|e| mentions_old_self(&e))
}

/// Checks that `rule` is in the supported subset.
pub fn check(rule: &str) -> Result<(), String> {
    parse(rule).map(|_| ())
}

fn eval(e: &Expr, this: &Value) -> Result<Value, String> {
    Ok(match e {
        Expr::Lit(v) => v.clone(),
        Expr::Self_ => this.clone(),
        Expr::OldSelf => return Err("oldSelf is only defined on update".into()),
        Expr::Select(obj, f) => {
            let o = eval(obj, this)?;
            o.get(f)
                .cloned()
                .ok_or_else(|| format!("no such key: {f}"))?
        }
        Expr::Has(obj, f) => {
            let o = eval(obj, this)?;
            Value::Bool(o.get(f).is_some_and(|v| !v.is_null()))
        }
        Expr::Size(a) => match eval(a, this)? {
            Value::String(s) => Value::from(s.chars().count() as i64),
            Value::Array(v) => Value::from(v.len() as i64),
            Value::Object(m) => Value::from(m.len() as i64),
            other => return Err(format!("no such overload: size({other})")),
        },
        Expr::Not(a) => Value::Bool(!truth(&eval(a, this)?)?),
        Expr::Neg(a) => Value::from(-int(&eval(a, this)?)?),
        Expr::Cond(c, a, b) => {
            if truth(&eval(c, this)?)? {
                eval(a, this)?
            } else {
                eval(b, this)?
            }
        }
        Expr::Bin("&&", a, b) => Value::Bool(truth(&eval(a, this)?)? && truth(&eval(b, this)?)?),
        Expr::Bin("||", a, b) => Value::Bool(truth(&eval(a, this)?)? || truth(&eval(b, this)?)?),
        Expr::Bin(op, a, b) => {
            let (l, r) = (eval(a, this)?, eval(b, this)?);
            match *op {
                "==" => Value::Bool(l == r),
                "!=" => Value::Bool(l != r),
                "+" => Value::from(int(&l)? + int(&r)?),
                "-" => Value::from(int(&l)? - int(&r)?),
                "*" => Value::from(int(&l)? * int(&r)?),
                "<" => Value::Bool(int(&l)? < int(&r)?),
                "<=" => Value::Bool(int(&l)? <= int(&r)?),
                ">" => Value::Bool(int(&l)? > int(&r)?),
                ">=" => Value::Bool(int(&l)? >= int(&r)?),
                other => return Err(format!("unsupported operator {other}")),
            }
        }
    })
}

fn truth(v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("no matching overload: expected a bool, got {v}"))
}

fn int(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| format!("no matching overload: expected an int, got {v}"))
}

/// Evaluates `rule` with `self` bound to `this`; `Err` carries a CEL
/// evaluation error (the API server reports those as invalid too).
pub fn evaluate(rule: &str, this: &Value) -> Result<bool, String> {
    let e = parse(rule)?;
    truth(&eval(&e, this)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_of_the_nimservice_crd() {
        let r = "!(has(self.scale) && has(self.scale.enabled) && self.scale.enabled && has(self.replicas))";
        assert!(!evaluate(r, &json!({"scale": {"enabled": true}, "replicas": 0})).expect("eval"));
        assert!(evaluate(r, &json!({"scale": {"enabled": false}, "replicas": 2})).expect("eval"));
        let r = "(has(self.create) && self.create) ? !has(self.name) : (has(self.name) && size(self.name) > 0)";
        assert!(evaluate(r, &json!({"create": true})).expect("eval"));
        assert!(!evaluate(r, &json!({"name": ""})).expect("eval"));
        let r = "(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) == 1";
        assert!(evaluate(r, &json!({"b": 1})).expect("eval"));
        assert!(!evaluate(r, &json!({"a": 1, "b": 1})).expect("eval"));
        assert!(is_transition_rule("self == oldSelf"));
        assert!(check("self.x in [1]").is_err());
    }
}
