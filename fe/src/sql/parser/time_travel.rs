//! `SELECT ... FROM t FOR VERSION AS OF n`: reading an internal table as of
//! a past version (beyond Doris, which has the clause for external tables).
//! sqlparser's MySQL dialect has no table version clause, so the clause is
//! rewritten, token by token, into a call of the table function
//! [`VERSION_AS_OF`] aliased back to the table's name, which DataFusion plans
//! like any table function.

use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan};

/// The table function the planner registers for the clause.
pub const VERSION_AS_OF: &str = "__basalt_version_as_of";

pub fn rewrite(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let word = |t: &TokenWithSpan, w: &str| matches!(&t.token, Token::Word(x) if x.value.eq_ignore_ascii_case(w));
    // Positions of the tokens that are not whitespace.
    let sig: Vec<usize> = (0..tokens.len())
        .filter(|i| !matches!(tokens[*i].token, Token::Whitespace(_)))
        .collect();
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut copied = 0;
    let mut j = 1;
    while j + 4 < sig.len() {
        let at = |k: usize| &tokens[sig[j + k]];
        let clause =
            word(at(0), "FOR") && word(at(1), "VERSION") && word(at(2), "AS") && word(at(3), "OF");
        let Token::Number(version, _) = &at(4).token else {
            j += 1;
            continue;
        };
        let Token::Word(table) = &tokens[sig[j - 1]].token else {
            j += 1;
            continue;
        };
        if !clause {
            j += 1;
            continue;
        }
        // `db.t`: the name starts two tokens earlier.
        let qualified = j >= 3
            && tokens[sig[j - 2]].token == Token::Period
            && matches!(tokens[sig[j - 3]].token, Token::Word(_));
        let name_start = if qualified { sig[j - 3] } else { sig[j - 1] };
        let name = match (qualified, &tokens[sig[j.saturating_sub(3)]].token) {
            (true, Token::Word(db)) => format!("{}.{}", db.value, table.value),
            _ => table.value.clone(),
        };
        let (alias, version) = (table.value.clone(), version.clone());
        out.extend(tokens[copied..name_start].iter().cloned());
        let t = TokenWithSpan::wrap;
        out.extend([
            t(Token::make_word(VERSION_AS_OF, None)),
            t(Token::LParen),
            t(Token::SingleQuotedString(name)),
            t(Token::Comma),
            t(Token::Number(version, false)),
            t(Token::RParen),
        ]);
        // The table's own name stays its reference, unless the query aliases it.
        let after = sig.get(j + 5).map(|i| &tokens[*i].token);
        let aliased = matches!(after, Some(Token::Word(w)) if w.keyword == Keyword::AS || w.keyword == Keyword::NoKeyword);
        if !aliased {
            out.extend([
                t(Token::Whitespace(
                    datafusion::sql::sqlparser::tokenizer::Whitespace::Space,
                )),
                t(Token::make_keyword("AS")),
                t(Token::Whitespace(
                    datafusion::sql::sqlparser::tokenizer::Whitespace::Space,
                )),
                t(Token::make_word(&alias, Some('`'))),
            ]);
        }
        copied = sig[j + 4] + 1;
        j += 5;
    }
    out.extend(tokens[copied..].iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::MySqlDialect;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    fn text(sql: &str) -> String {
        let tokens = Tokenizer::new(&MySqlDialect {}, sql)
            .tokenize_with_location()
            .unwrap();
        rewrite(tokens)
            .iter()
            .map(|t| t.token.to_string())
            .collect()
    }

    #[test]
    fn the_clause_becomes_a_table_function() {
        assert_eq!(
            text("SELECT * FROM db.t FOR VERSION AS OF 3 WHERE k = 1"),
            "SELECT * FROM __basalt_version_as_of('db.t',3) AS `t` WHERE k = 1"
        );
        assert_eq!(
            text("select a.k from t for version as of 2 a join u on a.k = u.k"),
            "select a.k from __basalt_version_as_of('t',2) a join u on a.k = u.k"
        );
        assert_eq!(
            text("SELECT 'for version as of 2'"),
            "SELECT 'for version as of 2'"
        );
    }
}
