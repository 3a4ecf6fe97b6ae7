//! Reads a CTranslate2 model file (`model.bin`, format version 6): the variables (tensors) with
//! their names, shapes and raw little-endian data, and the aliases between them.

use crate::{Error, Result};

/// Element type of a stored tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl DType {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::Bf16,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::Bf16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// Row-major, little-endian.
    pub data: Vec<u8>,
}

impl Tensor {
    /// The values as f32 (from f32 or f16 storage).
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        match self.dtype {
            DType::F32 => {
                Ok(self.data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
            }
            DType::F16 => {
                Ok(self.data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect())
            }
            other => Err(Error::Format(format!("{}: cannot read {other:?} as floats", self.name))),
        }
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// IEEE half to single precision.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1F) as u32;
    let mant = (h & 0x3FF) as u32;
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let shift = m.leading_zeros() - 21;
            let m = (m << shift) & 0x3FF;
            sign | ((127 - 15 + 1 - shift) << 23) | (m << 13)
        }
        (31, 0) => sign | 0x7F80_0000,
        (31, m) => sign | 0x7F80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Single to half precision (round to nearest even).
pub fn f32_to_f16(f: f32) -> u16 {
    let x = f.to_bits();
    let sign = ((x >> 16) & 0x8000) as u16;
    let exp = ((x >> 23) & 0xFF) as i32;
    let mant = x & 0x7F_FFFF;
    if exp == 255 {
        return sign | 0x7C00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 31 {
        return sign | 0x7C00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let mid = 1 << (shift - 1);
        let round = (rem > mid || (rem == mid && half & 1 == 1)) as u32;
        return sign | (half + round) as u16;
    }
    let half = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1FFF;
    let round = (rem > 0x1000 || (rem == 0x1000 && half & 1 == 1)) as u32;
    sign | (half + round) as u16
}

pub struct Model {
    pub spec: String,
    pub revision: u32,
    pub tensors: Vec<Tensor>,
    /// (alias, target) pairs: `alias` names the same tensor as `target`.
    pub aliases: Vec<(String, String)>,
}

impl Model {
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        let target = self.aliases.iter().find(|(a, _)| a == name).map_or(name, |(_, t)| t.as_str());
        self.tensors.iter().find(|t| t.name == target)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let s = self
            .b
            .get(self.pos..self.pos + n)
            .ok_or_else(|| Error::Format("model.bin is truncated".into()))?;
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A u16 length (counting a trailing NUL) and the bytes.
    fn string(&mut self) -> Result<String> {
        let n = self.u16()? as usize;
        let bytes = self.take(n)?;
        let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(bytes.to_vec())
            .map_err(|_| Error::Format("a name in model.bin is not UTF-8".into()))
    }
}

/// Parses a CTranslate2 `model.bin`.
pub fn parse(bytes: &[u8]) -> Result<Model> {
    let mut r = Reader { b: bytes, pos: 0 };
    let version = r.u32()?;
    if !(5..=6).contains(&version) {
        return Err(Error::Format(format!("CTranslate2 model version {version} is not supported (5 or 6)")));
    }
    let spec = r.string()?;
    let revision = r.u32()?;
    let count = r.u32()? as usize;
    if count > 100_000 {
        return Err(Error::Format(format!("implausible variable count {count}")));
    }
    let mut tensors = Vec::with_capacity(count);
    for _ in 0..count {
        let name = r.string()?;
        let rank = r.u8()? as usize;
        let shape = (0..rank).map(|_| r.u32().map(|d| d as usize)).collect::<Result<Vec<_>>>()?;
        let dtype =
            DType::from_code(r.u8()?).ok_or_else(|| Error::Format(format!("{name}: unknown type")))?;
        let bytes = r.u32()? as usize;
        if bytes != shape.iter().product::<usize>() * dtype.size() {
            return Err(Error::Format(format!("{name}: {bytes} bytes for shape {shape:?}")));
        }
        let data = r.take(bytes)?.to_vec();
        tensors.push(Tensor { name, shape, dtype, data });
    }
    let mut aliases = Vec::new();
    if r.pos < bytes.len() {
        let n = r.u32()?;
        for _ in 0..n {
            aliases.push((r.string()?, r.string()?));
        }
    }
    Ok(Model { spec, revision, tensors, aliases })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_round_trips() {
        for v in [0.0f32, 1.0, -2.5, 0.000061035156, 65504.0, 1e-7, 2.71] {
            let back = f16_to_f32(f32_to_f16(v));
            assert!((back - v).abs() <= v.abs() * 1e-3 + 1e-7, "{v} -> {back}");
        }
        assert!(f16_to_f32(f32_to_f16(1e6)).is_infinite());
    }

    #[test]
    fn reads_a_small_model_and_refuses_junk() {
        let mut b = Vec::new();
        b.extend(6u32.to_le_bytes());
        let name = |b: &mut Vec<u8>, s: &str| {
            b.extend(((s.len() + 1) as u16).to_le_bytes());
            b.extend(s.as_bytes());
            b.push(0);
        };
        name(&mut b, "WhisperSpec");
        b.extend(3u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        name(&mut b, "w");
        b.push(2);
        b.extend(2u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.push(4);
        b.extend(4u32.to_le_bytes());
        b.extend(f32_to_f16(1.5).to_le_bytes());
        b.extend(f32_to_f16(-1.0).to_le_bytes());
        b.extend(1u32.to_le_bytes());
        name(&mut b, "alias");
        name(&mut b, "w");
        let m = parse(&b).unwrap();
        assert_eq!(m.spec, "WhisperSpec");
        assert_eq!(m.get("alias").unwrap().to_f32().unwrap(), vec![1.5, -1.0]);
        // Cut anywhere before the end of the tensor data (the alias table is 16 bytes): an error.
        for n in 0..b.len() - 16 {
            assert!(parse(&b[..n]).is_err(), "truncated at {n} parsed");
        }
        assert!(parse(b"junk").is_err());
    }
}
