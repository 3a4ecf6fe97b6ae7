//! Checks tool arguments against the JSON Schema a tool declares, before the tool runs, so a
//! model's malformed call gets a precise, structured complaint back instead of a crash. The
//! common subset tools use is covered: `type` (one or several), `properties`, `required`,
//! `additionalProperties: false`, `enum`, `const`, string `minLength`/`maxLength`, number
//! `minimum`/`maximum`, array `items`/`minItems`/`maxItems`. Other keywords are ignored.

use serde_json::Value;

/// One thing wrong with the arguments: where (a JSON pointer like `/items/0/sku`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches_type(v: &Value, t: &str) -> bool {
    let actual = type_of(v);
    actual == t
        || (t == "number" && actual == "integer")
        || (t == "integer" && v.as_f64().is_some_and(|f| f.fract() == 0.0))
}

/// Every problem with `value` against `schema` (empty when it conforms).
pub fn check(value: &Value, schema: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    walk(value, schema, "", &mut out);
    out
}

fn walk(v: &Value, s: &Value, path: &str, out: &mut Vec<Problem>) {
    let Some(s) = s.as_object() else { return };
    let mut problem = |message: String| {
        out.push(Problem { path: if path.is_empty() { "/".into() } else { path.into() }, message })
    };
    if let Some(t) = s.get("type") {
        let allowed: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(|t| t.as_str()).collect(),
            _ => vec![],
        };
        if !allowed.is_empty() && !allowed.iter().any(|t| matches_type(v, t)) {
            problem(format!("expected {}, got {}", allowed.join(" or "), type_of(v)));
            return;
        }
    }
    if let Some(options) = s.get("enum").and_then(|e| e.as_array()) {
        if !options.contains(v) {
            let list: Vec<String> = options.iter().map(|o| o.to_string()).collect();
            problem(format!("must be one of {}", list.join(", ")));
        }
    }
    if let Some(c) = s.get("const") {
        if c != v {
            problem(format!("must be {c}"));
        }
    }
    match v {
        Value::String(text) => {
            let n = text.chars().count() as u64;
            if let Some(min) = s.get("minLength").and_then(|m| m.as_u64()).filter(|&m| n < m) {
                problem(format!("must be at least {min} characters"));
            }
            if let Some(max) = s.get("maxLength").and_then(|m| m.as_u64()).filter(|&m| n > m) {
                problem(format!("must be at most {max} characters"));
            }
        }
        Value::Number(num) => {
            let x = num.as_f64().unwrap_or(0.0);
            if let Some(min) = s.get("minimum").and_then(|m| m.as_f64()).filter(|&m| x < m) {
                problem(format!("must be at least {min}"));
            }
            if let Some(max) = s.get("maximum").and_then(|m| m.as_f64()).filter(|&m| x > m) {
                problem(format!("must be at most {max}"));
            }
        }
        Value::Array(items) => {
            if let Some(min) =
                s.get("minItems").and_then(|m| m.as_u64()).filter(|&m| (items.len() as u64) < m)
            {
                problem(format!("needs at least {min} items"));
            }
            if let Some(max) =
                s.get("maxItems").and_then(|m| m.as_u64()).filter(|&m| (items.len() as u64) > m)
            {
                problem(format!("takes at most {max} items"));
            }
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item, item_schema, &format!("{path}/{i}"), out);
                }
            }
        }
        Value::Object(map) => {
            let props = s.get("properties").and_then(|p| p.as_object());
            for name in
                s.get("required").and_then(|r| r.as_array()).into_iter().flatten().filter_map(|r| r.as_str())
            {
                if !map.contains_key(name) {
                    out.push(Problem { path: format!("{path}/{name}"), message: "is required".into() });
                }
            }
            for (k, item) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => walk(item, ps, &format!("{path}/{k}"), out),
                    None if s.get("additionalProperties") == Some(&Value::Bool(false)) => out.push(Problem {
                        path: format!("{path}/{k}"),
                        message: "is not a known argument".into(),
                    }),
                    None => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["order_number"],
            "properties": {
                "order_number": {"type": "string", "minLength": 3, "maxLength": 12},
                "include": {"type": "array", "items": {"enum": ["items", "tracking"]}, "maxItems": 2},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10},
                "note": {"type": ["string", "null"]}
            }
        })
    }

    #[test]
    fn good_arguments_pass() {
        let ok = json!({"order_number": "1042", "include": ["tracking"], "limit": 3, "note": null});
        assert_eq!(check(&ok, &schema()), vec![]);
        assert_eq!(check(&json!({"limit": 2.0, "order_number": "1042"}), &schema()), vec![]);
    }

    #[test]
    fn every_problem_is_named_with_its_path() {
        let bad = json!({"include": ["tracking", "price"], "limit": 0, "colour": "red", "note": 5});
        let problems = check(&bad, &schema());
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert!(paths.contains(&"/order_number"), "{problems:?}");
        assert!(paths.contains(&"/include/1"), "{problems:?}");
        assert!(paths.contains(&"/limit"), "{problems:?}");
        assert!(paths.contains(&"/colour"), "{problems:?}");
        assert!(paths.contains(&"/note"), "{problems:?}");
        assert_eq!(check(&json!("1042"), &schema())[0].message, "expected object, got string");
        assert_eq!(
            check(&json!({"order_number": "1"}), &schema())[0].message,
            "must be at least 3 characters"
        );
    }
}
