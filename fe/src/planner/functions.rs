//! MySQL's session functions (DATABASE(), USER(), ...) for one statement.

use crate::session::Session;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Registers functions whose value is fixed for the statement.
pub fn register(ctx: &SessionContext, session: &Session) {
    let constants: Vec<(&str, ScalarValue)> = vec![
        ("database", ScalarValue::Utf8(session.db.clone())),
        ("schema", ScalarValue::Utf8(session.db.clone())),
        ("user", ScalarValue::Utf8(Some(session.user_identity()))),
        (
            "current_user",
            ScalarValue::Utf8(Some(session.user_identity())),
        ),
        (
            "session_user",
            ScalarValue::Utf8(Some(session.user_identity())),
        ),
        (
            "connection_id",
            ScalarValue::Int64(Some(session.connection_id.into())),
        ),
        (
            "version",
            ScalarValue::Utf8(Some(basalt_common::MYSQL_SERVER_VERSION.into())),
        ),
        ("last_insert_id", ScalarValue::Int64(Some(0))),
    ];
    for f in basalt_common::bitmap::udfs() {
        ctx.register_udf(f);
    }
    for f in basalt_common::bitmap::udafs() {
        ctx.register_udaf(f);
    }
    for (name, value) in constants {
        let ty: DataType = value.data_type();
        let udf = create_udf(
            name,
            vec![],
            ty,
            Volatility::Stable,
            Arc::new(move |_args: &[ColumnarValue]| Ok(ColumnarValue::Scalar(value.clone()))),
        );
        ctx.register_udf(udf);
    }
}
