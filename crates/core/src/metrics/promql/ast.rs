//! The PromQL syntax tree nimscale evaluates.

/// A label matcher operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~` (fully anchored RE2 regex)
    Re,
    /// `!~`
    Nre,
}

/// One label matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value as written (unescaped).
    pub value: String,
    /// The anchored regex for `=~` / `!~`.
    pub re: Option<LabelRegex>,
}

/// A label matcher's anchored regular expression. An alternation of plain
/// words (`pod=~"a|b|c"`, as prometheus-adapter writes for the pods it asks
/// about at every sync) is kept as a sorted set and matched without a regex
/// engine, like Prometheus' own set matcher.
#[derive(Clone, Debug)]
pub enum LabelRegex {
    /// The words of a plain alternation, sorted.
    Set(Box<[String]>),
    /// Anything else.
    Regex(regex_lite::Regex),
}

impl LabelRegex {
    /// `^(?:value)$`.
    pub fn new(value: &str) -> Result<LabelRegex, regex_lite::Error> {
        let plain = |w: &str| {
            w.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'_' | b'-' | b':' | b'/' | b'@' | b'=' | b',' | b' ' | b'%'
                    )
            })
        };
        if value.split('|').all(plain) {
            let mut words: Vec<String> = value.split('|').map(str::to_owned).collect();
            words.sort_unstable();
            words.dedup();
            return Ok(LabelRegex::Set(words.into_boxed_slice()));
        }
        regex_lite::Regex::new(&format!("^(?:{value})$")).map(LabelRegex::Regex)
    }

    /// Whether the whole of `v` matches.
    pub fn is_match(&self, v: &str) -> bool {
        match self {
            LabelRegex::Set(words) => words.binary_search_by(|w| w.as_str().cmp(v)).is_ok(),
            LabelRegex::Regex(r) => r.is_match(v),
        }
    }
}

impl Matcher {
    /// Whether a label value (`""` when absent) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Ne => v != self.value,
            MatchOp::Re => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::Nre => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }
}

/// A vector selector: `name{matchers} offset o`.
#[derive(Clone, Debug)]
pub struct Selector {
    /// The metric name, when written before the braces or as `__name__="x"`.
    pub name: Option<String>,
    /// All matchers, the name's included.
    pub matchers: Vec<Matcher>,
    /// `offset`, in milliseconds.
    pub offset_ms: i64,
}

/// Aggregation operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `max`
    Max,
    /// `min`
    Min,
    /// `count`
    Count,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
}

impl BinOp {
    /// Comparison operators filter (or, with `bool`, return 0/1).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eql | BinOp::Neq | BinOp::Gtr | BinOp::Lss | BinOp::Gte | BinOp::Lte
        )
    }
}

/// `on(...)` / `ignoring(...)` of a vector–vector operation.
#[derive(Clone, Debug, Default)]
pub struct VectorMatching {
    /// `on` (true) or `ignoring` (false).
    pub on: bool,
    /// The labels listed.
    pub labels: Vec<String>,
}

/// Functions nimscale evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// `rate(m[r])`
    Rate,
    /// `increase(m[r])`
    Increase,
    /// `irate(m[r])`
    Irate,
    /// `delta(m[r])`
    Delta,
    /// `avg_over_time(m[r])`
    AvgOverTime,
    /// `max_over_time(m[r])`
    MaxOverTime,
    /// `min_over_time(m[r])`
    MinOverTime,
    /// `sum_over_time(m[r])`
    SumOverTime,
    /// `count_over_time(m[r])`
    CountOverTime,
    /// `histogram_quantile(q, v)`
    HistogramQuantile,
    /// `clamp_min(v, s)`
    ClampMin,
    /// `clamp_max(v, s)`
    ClampMax,
    /// `clamp(v, lo, hi)`
    Clamp,
    /// `abs(v)`
    Abs,
    /// `ceil(v)`
    Ceil,
    /// `floor(v)`
    Floor,
    /// `sqrt(v)`
    Sqrt,
    /// `exp(v)`
    Exp,
    /// `ln(v)`
    Ln,
    /// `vector(s)`
    Vector,
    /// `scalar(v)`
    Scalar,
    /// `time()`
    Time,
}

/// The value type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A number.
    Scalar,
    /// An instant vector.
    Vector,
    /// A range vector.
    Matrix,
}

impl Ty {
    /// Prometheus' name for the type (in error messages).
    pub fn name(self) -> &'static str {
        match self {
            Ty::Scalar => "scalar",
            Ty::Vector => "instant vector",
            Ty::Matrix => "range vector",
        }
    }
}

impl Func {
    /// Looks a function up by name.
    pub fn by_name(name: &str) -> Option<Func> {
        Some(match name {
            "rate" => Func::Rate,
            "increase" => Func::Increase,
            "irate" => Func::Irate,
            "delta" => Func::Delta,
            "avg_over_time" => Func::AvgOverTime,
            "max_over_time" => Func::MaxOverTime,
            "min_over_time" => Func::MinOverTime,
            "sum_over_time" => Func::SumOverTime,
            "count_over_time" => Func::CountOverTime,
            "histogram_quantile" => Func::HistogramQuantile,
            "clamp_min" => Func::ClampMin,
            "clamp_max" => Func::ClampMax,
            "clamp" => Func::Clamp,
            "abs" => Func::Abs,
            "ceil" => Func::Ceil,
            "floor" => Func::Floor,
            "sqrt" => Func::Sqrt,
            "exp" => Func::Exp,
            "ln" => Func::Ln,
            "vector" => Func::Vector,
            "scalar" => Func::Scalar,
            "time" => Func::Time,
            _ => return None,
        })
    }

    /// Argument types and the result type.
    pub fn signature(self) -> (&'static [Ty], Ty) {
        use Ty::*;
        match self {
            Func::Rate
            | Func::Increase
            | Func::Irate
            | Func::Delta
            | Func::AvgOverTime
            | Func::MaxOverTime
            | Func::MinOverTime
            | Func::SumOverTime
            | Func::CountOverTime => (&[Matrix], Vector),
            Func::HistogramQuantile => (&[Scalar, Vector], Vector),
            Func::ClampMin | Func::ClampMax => (&[Vector, Scalar], Vector),
            Func::Clamp => (&[Vector, Scalar, Scalar], Vector),
            Func::Abs | Func::Ceil | Func::Floor | Func::Sqrt | Func::Exp | Func::Ln => {
                (&[Vector], Vector)
            }
            Func::Vector => (&[Scalar], Vector),
            Func::Scalar => (&[Vector], Scalar),
            Func::Time => (&[], Scalar),
        }
    }
}

/// An expression.
#[derive(Clone, Debug)]
pub enum Expr {
    /// A number literal.
    Number(f64),
    /// An instant vector selector.
    Vector(Selector),
    /// A range vector selector `sel[range]`.
    Matrix(Selector, i64),
    /// A function call.
    Call(Func, Vec<Expr>),
    /// An aggregation.
    Aggregate {
        /// Operator.
        op: AggOp,
        /// `without` (true) or `by` (false).
        without: bool,
        /// Grouping labels.
        grouping: Vec<String>,
        /// The aggregated expression.
        expr: Box<Expr>,
    },
    /// A binary operation.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
        /// The `bool` modifier.
        return_bool: bool,
        /// `on`/`ignoring`.
        matching: Option<VectorMatching>,
    },
    /// Unary minus.
    Neg(Box<Expr>),
    /// Parentheses.
    Paren(Box<Expr>),
}

impl Expr {
    /// The static type of the expression.
    pub fn ty(&self) -> Ty {
        match self {
            Expr::Number(_) => Ty::Scalar,
            Expr::Vector(_) | Expr::Aggregate { .. } => Ty::Vector,
            Expr::Matrix(..) => Ty::Matrix,
            Expr::Call(f, _) => f.signature().1,
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.ty() == Ty::Scalar && rhs.ty() == Ty::Scalar {
                    Ty::Scalar
                } else {
                    Ty::Vector
                }
            }
            Expr::Neg(e) | Expr::Paren(e) => e.ty(),
        }
    }

    /// Every selector in the expression (to know which series it can read).
    pub fn selectors(&self) -> Vec<&Selector> {
        let mut out = Vec::new();
        self.walk(&mut |e| match e {
            Expr::Vector(s) | Expr::Matrix(s, _) => out.push(s),
            _ => {}
        });
        out
    }

    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Call(_, args) => args.iter().for_each(|a| a.walk(f)),
            Expr::Aggregate { expr, .. } | Expr::Neg(expr) | Expr::Paren(expr) => expr.walk(f),
            Expr::Binary { lhs, rhs, .. } => {
                lhs.walk(f);
                rhs.walk(f);
            }
            _ => {}
        }
    }
}

/// The longest `range + offset` any selector of `e` reads, in milliseconds.
pub fn max_window_ms(e: &Expr) -> i64 {
    e.selectors_with_range()
        .into_iter()
        .map(|(s, r)| r + s.offset_ms.max(0))
        .max()
        .unwrap_or(0)
}

impl Expr {
    fn selectors_with_range(&self) -> Vec<(&Selector, i64)> {
        let mut out = Vec::new();
        self.walk(&mut |e| match e {
            Expr::Vector(s) => out.push((s, 0)),
            Expr::Matrix(s, r) => out.push((s, *r)),
            _ => {}
        });
        out
    }
}
