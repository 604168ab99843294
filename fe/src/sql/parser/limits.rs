//! Doris's limits on one expression's size (`expr_children_limit`) and depth
//! (`expr_depth_limit`), checked as a statement is parsed, before the planner,
//! the rewrites or execution recurse over it.
//!
//! Doris counts as its Nereids planner builds an expression: a leaf (column,
//! literal, `count(*)`) has depth 1 and width 1; any other node has depth one
//! more than its deepest child and the sum of its children's widths. AND and
//! OR are n-ary (a chain of them is one node) and parentheses are no node.
//! So `id = 1 OR ... OR id = 5000` has depth 3 and width 10,000, `id IN (1,
//! ..., 9999)` depth 2 and width 10,000, and `a + a + ... + a` with n terms
//! depth n and width n.

use basalt_common::{Error, Result};
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Query, Visit, Visitor};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};
use std::ops::ControlFlow;

/// The limits a statement is parsed under (the FE config's current values).
#[derive(Debug, Clone, Copy)]
pub struct ExprLimits {
    pub children: usize,
    pub depth: usize,
}

/// Doris's defaults.
impl Default for ExprLimits {
    fn default() -> Self {
        Self {
            children: 10_000,
            depth: 3_000,
        }
    }
}

/// Tokens one expression may take before it is refused unparsed. sqlparser
/// builds a chain like `a OR b OR ...` or `a + b + ...` as a tree as deep as
/// it is long, and building, walking and dropping that tree recurse once per
/// level: a 64 MB packet of `1+1+...` would overflow any stack. An expression
/// this long has more than 10,000 leaves (every few tokens add one), so Doris
/// refuses it with the same error; below it, the depth fits the threads' stacks
/// (`basalt_common::THREAD_STACK_SIZE`).
const MAX_EXPRESSION_TOKENS: usize = 100_000;

/// Refuses a token stream with an expression longer than [`MAX_EXPRESSION_TOKENS`].
/// A comma starts a new expression; a parenthesised group belongs to the
/// expression around it, which is as long as its longest argument.
pub fn check_tokens(tokens: &[TokenWithSpan], limits: ExprLimits) -> Result<()> {
    let mut length = 0usize;
    // Per open parenthesis: the length where it opened, and its longest argument.
    let mut groups: Vec<(usize, usize)> = Vec::new();
    for t in tokens {
        match &t.token {
            Token::Whitespace(_) => {}
            Token::LParen => groups.push((length, length)),
            Token::Comma => match groups.last_mut() {
                Some((start, longest)) => {
                    *longest = (*longest).max(length);
                    length = *start;
                }
                None => length = 0,
            },
            Token::RParen => {
                if let Some((_, longest)) = groups.pop() {
                    length = length.max(longest);
                }
            }
            Token::SemiColon => {
                groups.clear();
                length = 0;
            }
            _ => {
                length += 1;
                if length > MAX_EXPRESSION_TOKENS {
                    return Err(too_wide(limits));
                }
            }
        }
    }
    Ok(())
}

/// Checks every expression in a parsed statement (or expression) against `limits`.
pub fn check<T: Visit>(node: &T, limits: ExprLimits) -> Result<()> {
    let mut checker = Checker {
        limits,
        frames: Vec::new(),
    };
    match node.visit(&mut checker) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

fn too_wide(limits: ExprLimits) -> Error {
    Error::invalid(format!(
        "Exceeded the maximum children of an expression tree ({}).",
        limits.children
    ))
}

pub(super) fn too_deep(limits: ExprLimits) -> Error {
    Error::invalid(format!(
        "Exceeded the maximum depth of an expression tree ({}).",
        limits.depth
    ))
}

/// One open node on the way down: what kind it is, and its children so far.
struct Frame {
    kind: Kind,
    depth: usize,
    width: usize,
    has_children: bool,
}

#[derive(PartialEq)]
enum Kind {
    /// A subquery: the expressions inside it are counted on their own.
    Query,
    /// Parentheses, which are no node.
    Nested,
    /// AND or OR, one node with the operands of a chain of the same operator.
    Chain(BinaryOperator),
    Other,
}

/// Counts bottom-up on an explicit stack of frames (the visitor's own descent
/// is bounded by [`check_tokens`] and the parser's recursion limit).
struct Checker {
    limits: ExprLimits,
    frames: Vec<Frame>,
}

impl Checker {
    fn push(&mut self, kind: Kind) {
        self.frames.push(Frame {
            kind,
            depth: 0,
            width: 0,
            has_children: false,
        });
    }

    /// The operator of the nearest enclosing node that is not parentheses.
    fn enclosing_chain(&self) -> Option<&BinaryOperator> {
        match self.frames.iter().rev().find(|f| f.kind != Kind::Nested) {
            Some(Frame {
                kind: Kind::Chain(op),
                ..
            }) => Some(op),
            _ => None,
        }
    }
}

impl Visitor for Checker {
    type Break = Error;

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<Error> {
        self.push(Kind::Query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<Error> {
        self.frames.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Error> {
        self.push(match expr {
            Expr::Nested(_) => Kind::Nested,
            Expr::BinaryOp {
                op: op @ (BinaryOperator::And | BinaryOperator::Or),
                ..
            } => Kind::Chain(op.clone()),
            _ => Kind::Other,
        });
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<Error> {
        let Some(frame) = self.frames.pop() else {
            return ControlFlow::Continue(());
        };
        let (depth, width) = match frame.kind {
            _ if !frame.has_children => (1, 1),
            Kind::Nested => (frame.depth, frame.width),
            Kind::Chain(ref op) if self.enclosing_chain() == Some(op) => (frame.depth, frame.width),
            _ => (frame.depth + 1, frame.width),
        };
        if depth > self.limits.depth {
            return ControlFlow::Break(too_deep(self.limits));
        }
        if width > self.limits.children {
            return ControlFlow::Break(too_wide(self.limits));
        }
        if let Some(parent) = self.frames.last_mut().filter(|f| f.kind != Kind::Query) {
            parent.depth = parent.depth.max(depth);
            parent.width += width;
            parent.has_children = true;
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::MySqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    const LIMITS: ExprLimits = ExprLimits {
        children: 10_000,
        depth: 3_000,
    };

    /// Parses and checks on a thread with the stack the server's threads have.
    fn counted(sql: &str, limits: ExprLimits) -> Result<()> {
        let sql = sql.to_string();
        std::thread::Builder::new()
            .stack_size(basalt_common::THREAD_STACK_SIZE)
            .spawn(move || {
                let expr = Parser::new(&MySqlDialect {})
                    .with_recursion_limit(4_000)
                    .try_with_sql(&sql)
                    .and_then(|mut p| p.parse_expr())
                    .expect("parses");
                check(&expr, limits)
            })
            .expect("spawns")
            .join()
            .expect("does not panic")
    }

    fn join(n: usize, term: impl Fn(usize) -> String, sep: &str) -> String {
        (0..n).map(term).collect::<Vec<_>>().join(sep)
    }

    #[test]
    fn or_chains_count_their_leaves() {
        let or = |n| join(n, |i| format!("id = {i}"), " OR ");
        assert!(counted(&or(5_000), LIMITS).is_ok());
        let e = counted(&or(5_001), LIMITS).unwrap_err();
        assert_eq!(
            e.message,
            "Exceeded the maximum children of an expression tree (10000)."
        );
        // Parentheses and a chain of the other operator are still one node each.
        assert!(counted(&format!("(a AND ({})) OR b", or(100)), LIMITS).is_ok());
    }

    #[test]
    fn in_lists_count_the_value_and_each_item() {
        let list = |n| format!("id IN ({})", join(n, |i| i.to_string(), ", "));
        assert!(counted(&list(9_999), LIMITS).is_ok());
        assert!(counted(&list(10_000), LIMITS).is_err());
    }

    #[test]
    fn depth_counts_each_level_with_the_leaf_as_one() {
        let nest = |n: usize| format!("{}id{}", "abs(".repeat(n), ")".repeat(n));
        assert!(counted(&nest(2_999), LIMITS).is_ok());
        let e = counted(&nest(3_000), LIMITS).unwrap_err();
        assert_eq!(
            e.message,
            "Exceeded the maximum depth of an expression tree (3000)."
        );
        let sum = |n| join(n, |_| "a".into(), " + ");
        assert!(counted(&sum(3_000), LIMITS).is_ok());
        assert!(counted(&sum(3_001), LIMITS).is_err());
    }

    #[test]
    fn subqueries_are_counted_on_their_own() {
        let inner = join(3_000, |i| format!("x = {i}"), " OR ");
        let sql =
            format!("a IN (SELECT x FROM t WHERE {inner}) OR b IN (SELECT x FROM t WHERE {inner})");
        assert!(counted(&sql, LIMITS).is_ok());
    }

    #[test]
    fn an_endless_expression_is_refused_from_its_tokens() {
        let sql = format!("SELECT {}", "1 + ".repeat(60_000) + "1");
        let tokens = datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&MySqlDialect {}, &sql)
            .tokenize_with_location()
            .expect("tokenizes");
        assert!(check_tokens(&tokens, LIMITS).is_err());
        let list = format!("SELECT x IN ({})", join(60_000, |i| i.to_string(), ", "));
        let tokens = datafusion::sql::sqlparser::tokenizer::Tokenizer::new(&MySqlDialect {}, &list)
            .tokenize_with_location()
            .expect("tokenizes");
        assert!(check_tokens(&tokens, LIMITS).is_ok());
    }
}
