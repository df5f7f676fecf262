//! A PromQL subset evaluated exactly as Prometheus does (2.x and 3.x).

pub mod ast;
pub mod eval;
pub mod functions;
pub mod parser;

pub use ast::Expr;
pub use eval::{EvalError, EvalOptions, PromVersion, Sample, Value, eval_instant};
pub use parser::{ParseError, parse, parse_duration_ms, parse_selector};
