//! PromQL text → [`Expr`], with Prometheus' precedence and type checks.
//! Every error names the column (1-based, in characters) where it starts.

use std::fmt;

use super::ast::{
    AggOp, BinOp, Expr, Func, LabelRegex, MatchOp, Matcher, Selector, Ty, VectorMatching,
};
use crate::metrics::labels::NAME;

/// A parse error: the column it points at and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based column in characters.
    pub column: usize,
    /// The message.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parse error at column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Number(f64),
    Duration(i64),
    Str(String),
    Op(&'static str),
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    pos: usize,
}

const OPS: [&str; 22] = [
    "==", "!=", "=~", "!~", ">=", "<=", "(", ")", "{", "}", "[", "]", ",", "=", "+", "-", "*", "/",
    "%", "^", ">", "<",
];

fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, m: String| ParseError {
        column: src[..pos].chars().count() + 1,
        message: m,
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if c == b'"' || c == b'\'' || c == b'`' {
            let (s, next) = lex_string(src, i).map_err(|(p, m)| err(p, m))?;
            out.push(Token {
                tok: Tok::Str(s),
                pos: start,
            });
            i = next;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (tok, next) = lex_number(src, i).map_err(|(p, m)| err(p, m))?;
            out.push(Token { tok, pos: start });
            i = next;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &src[start..i];
            let tok = match word.to_ascii_lowercase().as_str() {
                "inf" => Tok::Number(f64::INFINITY),
                "nan" => Tok::Number(f64::NAN),
                _ => Tok::Ident(word.to_owned()),
            };
            out.push(Token { tok, pos: start });
            continue;
        }
        let Some(op) = OPS.iter().find(|o| src[i..].starts_with(**o)) else {
            let ch = src[i..].chars().next().unwrap_or(' ');
            return Err(err(i, format!("unexpected character: '{ch}'")));
        };
        out.push(Token {
            tok: Tok::Op(op),
            pos: start,
        });
        i += op.len();
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

fn lex_string(src: &str, start: usize) -> Result<(String, usize), (usize, String)> {
    let q = src.as_bytes()[start] as char;
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, c)) = chars.next() {
        if c == q {
            return Ok((out, start + 1 + off + 1));
        }
        if c == '\n' && q != '`' {
            break;
        }
        if c == '\\' && q != '`' {
            let Some((_, e)) = chars.next() else { break };
            out.push(match e {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                'a' => '\u{7}',
                'b' => '\u{8}',
                'f' => '\u{c}',
                'v' => '\u{b}',
                '\\' | '"' | '\'' | '`' => e,
                _ => {
                    return Err((
                        start + 1 + off,
                        format!("unknown escape sequence '\\{e}' in string"),
                    ));
                }
            });
            continue;
        }
        out.push(c);
    }
    Err((start, "unterminated quoted string".into()))
}

/// Parses a Prometheus duration (`1h30m`, `90s`, `500ms`, `1d`) into
/// milliseconds.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("ms", 1),
        ("m", 60_000),
        ("s", 1000),
    ];
    if s.is_empty() {
        return None;
    }
    let mut rest = s;
    let mut total: i64 = 0;
    let mut last_rank = 0usize;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (rank, (unit, mult)) = UNITS
            .iter()
            .enumerate()
            .find(|(_, (u, _))| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")))?;
        if rank < last_rank {
            return None;
        }
        last_rank = rank + 1;
        total = total.checked_add(n.checked_mul(*mult)?)?;
        rest = &rest[unit.len()..];
    }
    // Prometheus holds durations as Go's time.Duration (int64 nanoseconds)
    // and refuses longer ones; so does nimscale, which keeps every time
    // sum (evaluation time minus offset minus range) inside i64.
    (total <= MAX_DURATION_MS).then_some(total)
}

/// The longest PromQL duration: what fits in int64 nanoseconds (292 years).
pub const MAX_DURATION_MS: i64 = i64::MAX / 1_000_000;

/// The duration starting at `start` whose letters run on from `from`.
fn lex_duration(src: &str, start: usize, from: usize) -> Result<(Tok, usize), (usize, String)> {
    let b = src.as_bytes();
    let mut j = from;
    while j < b.len() && b[j].is_ascii_alphanumeric() {
        j += 1;
    }
    let text = &src[start..j];
    parse_duration_ms(text)
        .map(|ms| (Tok::Duration(ms), j))
        .ok_or((start, format!("bad number or duration syntax: \"{text}\"")))
}

fn lex_number(src: &str, start: usize) -> Result<(Tok, usize), (usize, String)> {
    let b = src.as_bytes();
    let mut i = start;
    if src[i..].starts_with("0x") || src[i..].starts_with("0X") {
        i += 2;
        while i < b.len() && b[i].is_ascii_hexdigit() {
            i += 1;
        }
        let v = i64::from_str_radix(&src[start + 2..i], 16)
            .map_err(|_| (start, format!("bad number: {}", &src[start..i])))?;
        return Ok((Tok::Number(v as f64), i));
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    // A duration: digits followed by a unit letter (and maybe more groups).
    if i < b.len() && b[i].is_ascii_alphabetic() && !matches!(b[i], b'e' | b'E') {
        return lex_duration(src, start, i);
    }
    if i < b.len() && matches!(b[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < b.len() && matches!(b[j], b'+' | b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        } else {
            return lex_duration(src, start, i);
        }
    }
    let text = &src[start..i];
    text.parse::<f64>()
        .map(|v| (Tok::Number(v), i))
        .map_err(|_| (start, format!("bad number syntax: \"{text}\"")))
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    at: usize,
    /// Nesting depth (parentheses, calls, aggregations, unary operators,
    /// `^`), bounded by [`MAX_DEPTH`].
    depth: usize,
}

/// The deepest nesting an expression may have. Prometheus' own parser has
/// no such limit (it is generated and not recursive); nimscale's is
/// recursive, and so are evaluation and dropping the tree, so a bound keeps
/// a hostile `((((…))))` from overflowing the stack. Real adapter rules
/// nest a handful of levels.
pub const MAX_DEPTH: usize = 128;

/// Parses a PromQL expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        at: 0,
        depth: 0,
    };
    let e = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.err_here(format!("unexpected {}", p.describe())));
    }
    Ok(e)
}

/// Parses a series selector (the adapter's `seriesQuery`): `name{...}`
/// or `{...}`.
pub fn parse_selector(src: &str) -> Result<Selector, ParseError> {
    match parse(src)? {
        Expr::Vector(s) => Ok(s),
        _ => Err(ParseError {
            column: 1,
            message: "expected a series selector such as name{label=\"value\"}".into(),
        }),
    }
}

fn agg_op(word: &str) -> Option<AggOp> {
    Some(match word {
        "sum" => AggOp::Sum,
        "avg" => AggOp::Avg,
        "max" => AggOp::Max,
        "min" => AggOp::Min,
        "count" => AggOp::Count,
        _ => return None,
    })
}

const UNSUPPORTED_AGG: [&str; 8] = [
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "limitk",
];

fn level(t: &Tok) -> Option<(u8, BinOp)> {
    Some(match t {
        Tok::Op("==") => (3, BinOp::Eql),
        Tok::Op("!=") => (3, BinOp::Neq),
        Tok::Op(">") => (3, BinOp::Gtr),
        Tok::Op("<") => (3, BinOp::Lss),
        Tok::Op(">=") => (3, BinOp::Gte),
        Tok::Op("<=") => (3, BinOp::Lte),
        Tok::Op("+") => (4, BinOp::Add),
        Tok::Op("-") => (4, BinOp::Sub),
        Tok::Op("*") => (5, BinOp::Mul),
        Tok::Op("/") => (5, BinOp::Div),
        Tok::Op("%") => (5, BinOp::Mod),
        Tok::Ident(w) if w == "atan2" => (5, BinOp::Atan2),
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].tok
    }

    fn pos(&self) -> usize {
        self.toks[self.at].pos
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.at].tok.clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn col(&self, pos: usize) -> usize {
        self.src[..pos.min(self.src.len())].chars().count() + 1
    }

    fn err_at(&self, pos: usize, m: impl Into<String>) -> ParseError {
        ParseError {
            column: self.col(pos),
            message: m.into(),
        }
    }

    fn err_here(&self, m: impl Into<String>) -> ParseError {
        self.err_at(self.pos(), m)
    }

    fn describe(&self) -> String {
        match self.peek() {
            Tok::Ident(w) => format!("identifier \"{w}\""),
            Tok::Number(n) => format!("number \"{n}\""),
            Tok::Duration(_) => "duration".into(),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Op(o) => format!("\"{o}\""),
            Tok::Eof => "end of input".into(),
        }
    }

    fn expect(&mut self, op: &'static str) -> Result<(), ParseError> {
        if self.peek() == &Tok::Op(op) {
            self.next();
            Ok(())
        } else {
            Err(self.err_here(format!("unexpected {}, expected \"{op}\"", self.describe())))
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x == w)
    }

    fn expr(&mut self, min: u8) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        loop {
            if let Tok::Ident(w) = self.peek()
                && matches!(w.as_str(), "and" | "or" | "unless")
            {
                return Err(self.err_here(format!(
                    "set operator \"{w}\" is not supported by nimscale's PromQL subset"
                )));
            }
            let Some((lvl, op)) = level(self.peek()) else {
                break;
            };
            if lvl < min {
                break;
            }
            let op_pos = self.pos();
            self.next();
            let (return_bool, matching) = self.modifiers(op)?;
            let rhs = self.expr(lvl + 1)?;
            lhs = self.binary(op, lhs, rhs, return_bool, matching, op_pos)?;
        }
        Ok(lhs)
    }

    /// The modifiers after a binary operator: `bool` (comparisons only),
    /// `on(...)`/`ignoring(...)`; `group_left`/`group_right` are refused.
    fn modifiers(&mut self, op: BinOp) -> Result<(bool, Option<VectorMatching>), ParseError> {
        let mut return_bool = false;
        if self.is_word("bool") {
            if !op.is_comparison() {
                return Err(self.err_here("bool modifier can only be used on comparison operators"));
            }
            self.next();
            return_bool = true;
        }
        let mut matching = None;
        if self.is_word("on") || self.is_word("ignoring") {
            let on = self.is_word("on");
            self.next();
            matching = Some(VectorMatching {
                on,
                labels: self.label_list()?,
            });
        }
        if self.is_word("group_left") || self.is_word("group_right") {
            return Err(self.err_here(
                "group_left/group_right (many-to-one matching) is not supported by nimscale's PromQL subset",
            ));
        }
        Ok((return_bool, matching))
    }

    fn binary(
        &self,
        op: BinOp,
        lhs: Expr,
        rhs: Expr,
        return_bool: bool,
        matching: Option<VectorMatching>,
        pos: usize,
    ) -> Result<Expr, ParseError> {
        let (lt, rt) = (lhs.ty(), rhs.ty());
        if lt == Ty::Matrix || rt == Ty::Matrix {
            return Err(self.err_at(
                pos,
                "binary expression must contain only scalar and instant vector types",
            ));
        }
        if op.is_comparison() && !return_bool && lt == Ty::Scalar && rt == Ty::Scalar {
            return Err(self.err_at(pos, "comparisons between scalars must use BOOL modifier"));
        }
        if matching.is_some() && (lt == Ty::Scalar || rt == Ty::Scalar) {
            return Err(self.err_at(pos, "vector matching only allowed between instant vectors"));
        }
        Ok(Expr::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool,
            matching,
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err_here(format!(
                "expression nested more than {MAX_DEPTH} levels deep"
            )));
        }
        self.depth += 1;
        let e = self.unary_inner();
        self.depth -= 1;
        e
    }

    fn unary_inner(&mut self) -> Result<Expr, ParseError> {
        match self.peek() {
            Tok::Op("-") => {
                let pos = self.pos();
                self.next();
                let e = self.unary()?;
                match e {
                    Expr::Number(n) => Ok(Expr::Number(-n)),
                    e if e.ty() == Ty::Matrix => Err(self.err_at(
                        pos,
                        "unary expression only allowed on expressions of type scalar or instant vector",
                    )),
                    e => Ok(Expr::Neg(Box::new(e))),
                }
            }
            Tok::Op("+") => {
                self.next();
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Result<Expr, ParseError> {
        let base = self.postfix()?;
        if self.peek() == &Tok::Op("^") {
            let pos = self.pos();
            self.next();
            let (_, matching) = self.modifiers(BinOp::Pow)?;
            let exp = self.unary()?;
            return self.binary(BinOp::Pow, base, exp, false, matching, pos);
        }
        Ok(base)
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos();
        let mut e = self.primary()?;
        if self.peek() == &Tok::Op("[") {
            let Expr::Vector(sel) = e else {
                return Err(self.err_here(
                    "ranges only allowed for vector selectors (subqueries are not supported)",
                ));
            };
            self.next();
            let range = match self.next() {
                Tok::Duration(ms) if ms > 0 => ms,
                Tok::Number(n) if n > 0.0 && n.fract() == 0.0 => (n * 1000.0) as i64,
                _ => {
                    return Err(self.err_at(
                        self.toks[self.at.saturating_sub(1)].pos,
                        "expected a positive duration in the range selector",
                    ));
                }
            };
            if matches!(self.peek(), Tok::Ident(w) if w.starts_with(':')) {
                return Err(self.err_here("subqueries are not supported"));
            }
            self.expect("]")?;
            e = Expr::Matrix(sel, range);
        }
        if self.is_word("offset") {
            self.next();
            let neg = if self.peek() == &Tok::Op("-") {
                self.next();
                true
            } else {
                false
            };
            let Tok::Duration(ms) = self.next() else {
                return Err(self.err_at(
                    self.toks[self.at.saturating_sub(1)].pos,
                    "expected a duration after offset",
                ));
            };
            let ms = if neg { -ms } else { ms };
            match &mut e {
                Expr::Vector(s) | Expr::Matrix(s, _) => s.offset_ms = ms,
                _ => {
                    return Err(self.err_at(
                        start,
                        "offset modifier must be preceded by an instant vector selector or range vector selector",
                    ));
                }
            }
        }
        if self.peek() == &Tok::Op("@") {
            return Err(self.err_here("the @ modifier is not supported"));
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Number(n) => {
                self.next();
                Ok(Expr::Number(n))
            }
            Tok::Duration(_) => Err(self.err_here("unexpected duration")),
            Tok::Str(_) => Err(self.err_here(
                "string literals are not supported here (nimscale's PromQL subset has no string functions)",
            )),
            Tok::Op("(") => {
                self.next();
                let e = self.expr(0)?;
                self.expect(")")?;
                Ok(Expr::Paren(Box::new(e)))
            }
            Tok::Op("{") => Ok(Expr::Vector(self.selector(None, pos)?)),
            Tok::Ident(w) => {
                self.next();
                if let Some(op) = agg_op(&w) {
                    return self.aggregation(op);
                }
                if UNSUPPORTED_AGG.contains(&w.as_str()) && self.peek() != &Tok::Op("{") {
                    return Err(self.err_at(
                        pos,
                        format!("aggregation \"{w}\" is not supported by nimscale's PromQL subset"),
                    ));
                }
                if self.peek() == &Tok::Op("(") {
                    return self.call(&w, pos);
                }
                Ok(Expr::Vector(self.selector(Some(w), pos)?))
            }
            _ => Err(self.err_here(format!("unexpected {}", self.describe()))),
        }
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Expr, ParseError> {
        let Some(f) = Func::by_name(name) else {
            return Err(self.err_at(
                pos,
                format!(
                    "unknown function with name \"{name}\" (or one nimscale does not evaluate)"
                ),
            ));
        };
        self.expect("(")?;
        let mut args = Vec::new();
        if self.peek() != &Tok::Op(")") {
            loop {
                let apos = self.pos();
                args.push((apos, self.expr(0)?));
                if self.peek() == &Tok::Op(",") {
                    self.next();
                } else {
                    break;
                }
            }
        }
        self.expect(")")?;
        let (want, _) = f.signature();
        if args.len() != want.len() {
            return Err(self.err_at(
                pos,
                format!(
                    "expected {} argument(s) in call to \"{name}\", got {}",
                    want.len(),
                    args.len()
                ),
            ));
        }
        for ((apos, a), w) in args.iter().zip(want) {
            if a.ty() != *w {
                return Err(self.err_at(
                    *apos,
                    format!(
                        "expected type {} in call to function \"{name}\", got {}",
                        w.name(),
                        a.ty().name()
                    ),
                ));
            }
        }
        Ok(Expr::Call(f, args.into_iter().map(|(_, a)| a).collect()))
    }

    fn aggregation(&mut self, op: AggOp) -> Result<Expr, ParseError> {
        let mut grouping = None;
        if self.is_word("by") || self.is_word("without") {
            let without = self.is_word("without");
            self.next();
            grouping = Some((without, self.label_list()?));
        }
        self.expect("(")?;
        let apos = self.pos();
        let inner = self.expr(0)?;
        self.expect(")")?;
        if grouping.is_none() && (self.is_word("by") || self.is_word("without")) {
            let without = self.is_word("without");
            self.next();
            grouping = Some((without, self.label_list()?));
        }
        if inner.ty() != Ty::Vector {
            return Err(self.err_at(
                apos,
                format!(
                    "expected type instant vector in aggregation expression, got {}",
                    inner.ty().name()
                ),
            ));
        }
        let (without, grouping) = grouping.unwrap_or((false, Vec::new()));
        Ok(Expr::Aggregate {
            op,
            without,
            grouping,
            expr: Box::new(inner),
        })
    }

    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect("(")?;
        let mut out = Vec::new();
        while let Tok::Ident(w) = self.peek().clone() {
            self.next();
            out.push(w);
            if self.peek() == &Tok::Op(",") {
                self.next();
            } else {
                break;
            }
        }
        self.expect(")")?;
        Ok(out)
    }

    fn selector(&mut self, name: Option<String>, pos: usize) -> Result<Selector, ParseError> {
        let mut matchers = Vec::new();
        if let Some(n) = &name {
            matchers.push(Matcher {
                name: NAME.into(),
                op: MatchOp::Eq,
                value: n.clone(),
                re: None,
            });
        }
        if self.peek() == &Tok::Op("{") {
            self.next();
            while self.peek() != &Tok::Op("}") {
                let lpos = self.pos();
                let Tok::Ident(label) = self.next() else {
                    return Err(self.err_at(lpos, "expected a label name in the label matchers"));
                };
                let opos = self.pos();
                let op = match self.next() {
                    Tok::Op("=") => MatchOp::Eq,
                    Tok::Op("!=") => MatchOp::Ne,
                    Tok::Op("=~") => MatchOp::Re,
                    Tok::Op("!~") => MatchOp::Nre,
                    _ => {
                        return Err(
                            self.err_at(opos, "expected a label matching operator (=, !=, =~, !~)")
                        );
                    }
                };
                let vpos = self.pos();
                let Tok::Str(value) = self.next() else {
                    return Err(self.err_at(vpos, "expected a quoted label value"));
                };
                let re = match op {
                    MatchOp::Re | MatchOp::Nre => Some(LabelRegex::new(&value).map_err(|e| {
                        self.err_at(vpos, format!("invalid regular expression \"{value}\": {e}"))
                    })?),
                    _ => None,
                };
                if label == NAME && name.is_some() {
                    return Err(self.err_at(lpos, "metric name must not be set twice"));
                }
                matchers.push(Matcher {
                    name: label,
                    op,
                    value,
                    re,
                });
                if self.peek() == &Tok::Op(",") {
                    self.next();
                } else if self.peek() != &Tok::Op("}") {
                    return Err(self.err_here(format!(
                        "unexpected {} in label matching, expected \",\" or \"}}\"",
                        self.describe()
                    )));
                }
            }
            self.expect("}")?;
        }
        if !matchers.iter().any(|m| !m.matches("")) {
            return Err(self.err_at(
                pos,
                "vector selector must contain at least one non-empty matcher",
            ));
        }
        let name = name.or_else(|| {
            matchers
                .iter()
                .find(|m| m.name == NAME && m.op == MatchOp::Eq)
                .map(|m| m.value.clone())
        });
        Ok(Selector {
            name,
            matchers,
            offset_ms: 0,
        })
    }
}

#[cfg(test)]
mod tests;
