//! OTLP's `AnyValue` as JSON: how an attribute, a log body or a nested value reads when it is
//! shown or compared, whether it comes through the store or straight from a request.

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use serde_json::{Map, Number, Value};

use crate::ids::hex_id;

/// Converts an OTLP value to JSON. Recursion is bounded because prost refuses
/// to decode messages nested deeper than its recursion limit.
pub fn any_value_to_json(value: AnyValue) -> Value {
    use any_value::Value as V;
    match value.value {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s),
        Some(V::BoolValue(b)) => Value::Bool(b),
        Some(V::IntValue(i)) => Value::from(i),
        Some(V::DoubleValue(d)) => double_to_json(d),
        Some(V::ArrayValue(array)) => {
            Value::Array(array.values.into_iter().map(any_value_to_json).collect())
        }
        Some(V::KvlistValue(list)) => Value::Object(
            list.values
                .into_iter()
                .map(|kv| (kv.key, kv.value.map_or(Value::Null, any_value_to_json)))
                .collect::<Map<String, Value>>(),
        ),
        Some(V::BytesValue(bytes)) => Value::String(hex_id(&bytes)),
        // Only meaningful with the profiles string table, which traces, metrics
        // and logs do not carry.
        Some(V::StringValueStrindex(_)) => Value::Null,
    }
}

/// JSON has no NaN or infinities; spell them the way OTLP/JSON does.
fn double_to_json(d: f64) -> Value {
    match Number::from_f64(d) {
        Some(n) => Value::Number(n),
        None if d.is_nan() => Value::String("NaN".to_owned()),
        None if d > 0.0 => Value::String("Infinity".to_owned()),
        None => Value::String("-Infinity".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValue, KeyValueList};
    use serde_json::json;

    use super::*;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    #[test]
    fn any_values_map_to_json() {
        use any_value::Value as V;
        let nested = V::KvlistValue(KeyValueList {
            values: vec![
                kv("s", V::StringValue("x".into())),
                kv("b", V::BoolValue(true)),
                kv(
                    "arr",
                    V::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(V::IntValue(-3)),
                            },
                            AnyValue {
                                value: Some(V::DoubleValue(1.5)),
                            },
                        ],
                    }),
                ),
                kv("bytes", V::BytesValue(vec![0xde, 0xad])),
                kv("nan", V::DoubleValue(f64::NAN)),
                kv("inf", V::DoubleValue(f64::NEG_INFINITY)),
            ],
        });
        let json = any_value_to_json(AnyValue {
            value: Some(nested),
        });
        assert_eq!(
            json,
            json!({"s": "x", "b": true, "arr": [-3, 1.5], "bytes": "dead", "nan": "NaN", "inf": "-Infinity"})
        );
        assert_eq!(any_value_to_json(AnyValue { value: None }), Value::Null);
    }
}
