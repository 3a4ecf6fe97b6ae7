//! A repair ONNX Runtime's own exporter needs: a model it saves from an ORT-format file (see
//! [`crate::moonshine`]) has its `If` branches as graphs without a name, which it then refuses
//! to load ("Field 'name' of 'graph' is required to be non-empty"). This walks the protobuf
//! (ModelProto → graph → node → attribute → graph, recursively) and names every unnamed
//! subgraph after its node and attribute; everything else is copied byte for byte.

use crate::{Error, Result};

fn bad(what: &str) -> Error {
    Error::Format(format!("ONNX protobuf: {what}"))
}

fn varint(buf: &[u8], at: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at).ok_or_else(|| bad("truncated varint"))?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad("varint too long"))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One field: its number, wire type and the bytes of its value (a length-delimited value
/// without its length).
struct Field<'a> {
    number: u64,
    wire: u8,
    raw: &'a [u8],
    value: &'a [u8],
}

fn fields(buf: &[u8]) -> Result<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let start = at;
        let key = varint(buf, &mut at)?;
        let (number, wire) = (key >> 3, (key & 7) as u8);
        let value_start;
        match wire {
            0 => {
                value_start = at;
                varint(buf, &mut at)?;
            }
            1 | 5 => {
                value_start = at;
                at += if wire == 1 { 8 } else { 4 };
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut at)?).map_err(|_| bad("length"))?;
                value_start = at;
                at = at.checked_add(len).ok_or_else(|| bad("length"))?;
            }
            _ => return Err(bad("unsupported wire type")),
        }
        if at > buf.len() {
            return Err(bad("truncated field"));
        }
        out.push(Field { number, wire, raw: &buf[start..at], value: &buf[value_start..at] });
    }
    Ok(out)
}

fn put_bytes(out: &mut Vec<u8>, number: u64, value: &[u8]) {
    put_varint(out, (number << 3) | 2);
    put_varint(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// What becomes of a field when a message is rewritten.
enum Edit {
    Keep,
    Replace(Vec<u8>),
    Drop,
}

/// Rewrites `msg` field by field.
fn rewrite(msg: &[u8], mut f: impl FnMut(&Field) -> Result<Edit>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(msg.len() + 64);
    for field in fields(msg)? {
        match f(&field)? {
            Edit::Replace(new) if field.wire == 2 => put_bytes(&mut out, field.number, &new),
            Edit::Drop => {}
            _ => out.extend_from_slice(field.raw),
        }
    }
    Ok(out)
}

// Field numbers of onnx.proto.
const MODEL_GRAPH: u64 = 7;
const GRAPH_NODE: u64 = 1;
const GRAPH_NAME: u64 = 2;
const NODE_NAME: u64 = 3;
const NODE_ATTRIBUTE: u64 = 5;
const ATTRIBUTE_NAME: u64 = 1;
const ATTRIBUTE_GRAPH: u64 = 6;
const ATTRIBUTE_GRAPHS: u64 = 11;

/// A graph with its nodes' subgraphs named, and itself named `name` if it has no name.
fn graph(msg: &[u8], name: &str) -> Result<Vec<u8>> {
    let named = fields(msg)?.iter().any(|f| f.number == GRAPH_NAME && !f.value.is_empty());
    let mut out = rewrite(msg, |f| match f.number {
        GRAPH_NODE => node(f.value).map(Edit::Replace),
        GRAPH_NAME if !named => Ok(Edit::Drop),
        _ => Ok(Edit::Keep),
    })?;
    if !named {
        put_bytes(&mut out, GRAPH_NAME, name.as_bytes());
    }
    Ok(out)
}

fn node(msg: &[u8]) -> Result<Vec<u8>> {
    let name = fields(msg)?
        .iter()
        .find(|f| f.number == NODE_NAME)
        .map(|f| String::from_utf8_lossy(f.value).into_owned())
        .unwrap_or_else(|| "node".into());
    rewrite(msg, |f| match f.number {
        NODE_ATTRIBUTE => attribute(f.value, &name).map(Edit::Replace),
        _ => Ok(Edit::Keep),
    })
}

fn attribute(msg: &[u8], node: &str) -> Result<Vec<u8>> {
    let attr = fields(msg)?
        .iter()
        .find(|f| f.number == ATTRIBUTE_NAME)
        .map(|f| String::from_utf8_lossy(f.value).into_owned())
        .unwrap_or_default();
    let mut n = 0;
    rewrite(msg, |f| match f.number {
        ATTRIBUTE_GRAPH => graph(f.value, &format!("{node}_{attr}")).map(Edit::Replace),
        ATTRIBUTE_GRAPHS => {
            n += 1;
            graph(f.value, &format!("{node}_{attr}_{n}")).map(Edit::Replace)
        }
        _ => Ok(Edit::Keep),
    })
}

/// Names every unnamed subgraph of a serialised ModelProto (and the main graph, if unnamed).
pub fn name_subgraphs(model: &[u8]) -> Result<Vec<u8>> {
    rewrite(model, |f| match f.number {
        MODEL_GRAPH => graph(f.value, "main").map(Edit::Replace),
        _ => Ok(Edit::Keep),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(parts: &[(u64, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in parts {
            put_bytes(&mut out, *n, v);
        }
        out
    }

    fn name_of(graph: &[u8]) -> String {
        fields(graph)
            .unwrap()
            .iter()
            .filter(|f| f.number == GRAPH_NAME)
            .map(|f| String::from_utf8_lossy(f.value).into_owned())
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn unnamed_branches_get_their_nodes_name_and_the_rest_is_kept() {
        let then_branch = msg(&[(GRAPH_NODE, &msg(&[(NODE_NAME, b"inner")]))]);
        let else_branch = msg(&[(GRAPH_NAME, b"kept"), (GRAPH_NODE, &msg(&[(NODE_NAME, b"x")]))]);
        let if_node = msg(&[
            (NODE_NAME, b"optimum::if"),
            (NODE_ATTRIBUTE, &msg(&[(ATTRIBUTE_NAME, b"then_branch"), (ATTRIBUTE_GRAPH, &then_branch)])),
            (NODE_ATTRIBUTE, &msg(&[(ATTRIBUTE_NAME, b"else_branch"), (ATTRIBUTE_GRAPH, &else_branch)])),
        ]);
        let main = msg(&[(GRAPH_NODE, &if_node), (GRAPH_NAME, b"main_graph")]);
        let mut model = Vec::new();
        put_varint(&mut model, 1 << 3); // ir_version = 9
        put_varint(&mut model, 9);
        put_bytes(&mut model, MODEL_GRAPH, &main);

        let fixed = name_subgraphs(&model).unwrap();
        let top = fields(&fixed).unwrap();
        assert_eq!(top[0].raw, &[8, 9], "other fields are copied");
        let g = top.iter().find(|f| f.number == MODEL_GRAPH).unwrap().value;
        assert_eq!(name_of(g), "main_graph");
        let node = fields(g).unwrap().into_iter().find(|f| f.number == GRAPH_NODE).unwrap().value;
        let attrs: Vec<_> =
            fields(node).unwrap().into_iter().filter(|f| f.number == NODE_ATTRIBUTE).collect();
        fn branch<'a>(a: &Field<'a>) -> &'a [u8] {
            fields(a.value).unwrap().into_iter().find(|f| f.number == ATTRIBUTE_GRAPH).unwrap().value
        }
        assert_eq!(name_of(branch(&attrs[0])), "optimum::if_then_branch");
        assert_eq!(name_of(branch(&attrs[1])), "kept");
        // Idempotent.
        assert_eq!(name_subgraphs(&fixed).unwrap(), fixed);
    }

    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        for bad in [&[0x3a, 0xff, 0xff][..], &[0x3a, 0x05, 1], &[0xff; 12], &[0x3f]] {
            assert!(name_subgraphs(bad).is_err(), "{bad:?}");
        }
    }
}
