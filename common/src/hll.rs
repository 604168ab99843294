//! Doris's HLL: a HyperLogLog sketch of 2^14 six-bit registers that is exact
//! while it holds at most 160 distinct hashes, stored and passed as Arrow
//! LargeBinary (BITMAP has Binary, so a computed value's Doris type is known
//! from its Arrow type) in Doris's serialized form, and its functions as
//! DataFusion UDFs and UDAFs registered on the FE and every BE worker.
//!
//! Written by hand: the HyperLogLog crates have neither Doris's exact phase
//! for small sets nor its byte layout, which `hll_to_base64` exposes.

use crate::scalar;
use base64::Engine;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, LargeBinaryArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{
    create_udaf, create_udf, Accumulator, AggregateUDF, ColumnarValue, ScalarUDF, Volatility,
};
use std::collections::BTreeSet;
use std::sync::Arc;

/// The Arrow type HLL values are stored and computed as.
pub const ARROW_TYPE: DataType = DataType::LargeBinary;

const PRECISION: u32 = 14;
const REGISTERS: usize = 1 << PRECISION;
/// Distinct hashes kept exactly before switching to registers.
const EXPLICIT_MAX: usize = 160;
/// Beyond this many non-zero registers the full array is smaller than pairs.
const SPARSE_MAX: usize = 4096;
/// `hll_hash`'s seed: Doris's murmur seed.
const SEED: u64 = 0xadc8_3b19;

const EMPTY: u8 = 0;
const EXPLICIT: u8 = 1;
const SPARSE: u8 = 2;
const FULL: u8 = 3;

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Hll {
    #[default]
    Empty,
    Explicit(BTreeSet<u64>),
    Registers(Box<[u8; REGISTERS]>),
}

impl Hll {
    /// The sketch of one value's hash.
    pub fn of_hash(hash: u64) -> Hll {
        let mut h = Hll::Empty;
        h.add(hash);
        h
    }

    pub fn add(&mut self, hash: u64) {
        match self {
            Hll::Empty => *self = Hll::Explicit(BTreeSet::from([hash])),
            Hll::Explicit(set) => {
                set.insert(hash);
                if set.len() > EXPLICIT_MAX {
                    let mut regs = Box::new([0u8; REGISTERS]);
                    for h in set.iter() {
                        set_register(&mut regs, *h);
                    }
                    *self = Hll::Registers(regs);
                }
            }
            Hll::Registers(regs) => set_register(regs, hash),
        }
    }

    pub fn merge(&mut self, other: &Hll) {
        match other {
            Hll::Empty => {}
            Hll::Explicit(set) => set.iter().for_each(|h| self.add(*h)),
            Hll::Registers(theirs) => {
                if let Hll::Registers(ours) = self {
                    for (o, t) in ours.iter_mut().zip(theirs.iter()) {
                        *o = (*o).max(*t);
                    }
                    return;
                }
                let mine = std::mem::replace(self, Hll::Registers(theirs.clone()));
                self.merge(&mine);
            }
        }
    }

    /// The estimated number of distinct values (exact in the explicit phase).
    pub fn cardinality(&self) -> i64 {
        let regs = match self {
            Hll::Empty => return 0,
            Hll::Explicit(set) => return set.len() as i64,
            Hll::Registers(regs) => regs,
        };
        let m = REGISTERS as f64;
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let (sum, zeros) = regs.iter().fold((0.0f64, 0usize), |(s, z), r| {
            (s + 2f64.powi(-i32::from(*r)), z + usize::from(*r == 0))
        });
        let mut estimate = alpha * m * m / sum;
        if estimate <= 2.5 * m && zeros > 0 {
            // Linear counting is the better estimate for small cardinalities.
            estimate = m * (m / zeros as f64).ln();
        } else if estimate < 72_000.0 {
            // Doris's empirical bias correction for 2^14 registers, in percent.
            let e = estimate;
            let bias = 5.9119e-18 * e.powi(4) - 1.4253e-12 * e.powi(3) + 1.2940e-7 * e.powi(2)
                - 5.2921e-3 * e
                + 83.3216;
            estimate -= estimate * bias / 100.0;
        }
        (estimate + 0.5) as i64
    }

    /// Doris's serialized form: a type byte, then nothing (empty), a count
    /// and the hashes (explicit), the non-zero registers as (u16 index, u8
    /// value) after a u32 count (sparse), or every register (full).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Hll::Empty => vec![EMPTY],
            Hll::Explicit(set) => {
                let mut out = Vec::with_capacity(2 + 8 * set.len());
                out.extend([EXPLICIT, set.len() as u8]);
                set.iter().for_each(|h| out.extend(h.to_le_bytes()));
                out
            }
            Hll::Registers(regs) => {
                let set = regs.iter().filter(|r| **r != 0).count();
                if set > SPARSE_MAX {
                    let mut out = Vec::with_capacity(1 + REGISTERS);
                    out.push(FULL);
                    out.extend_from_slice(&regs[..]);
                    return out;
                }
                let mut out = Vec::with_capacity(5 + 3 * set);
                out.push(SPARSE);
                out.extend((set as u32).to_le_bytes());
                for (i, r) in regs.iter().enumerate().filter(|(_, r)| **r != 0) {
                    out.extend((i as u16).to_le_bytes());
                    out.push(*r);
                }
                out
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Hll> {
        let bad = || DataFusionError::Execution("not an HLL value".into());
        let (kind, body) = bytes.split_first().ok_or_else(bad)?;
        match *kind {
            EMPTY if body.is_empty() => Ok(Hll::Empty),
            EXPLICIT => {
                let (n, hashes) = body.split_first().ok_or_else(bad)?;
                if hashes.len() != 8 * *n as usize {
                    return Err(bad());
                }
                let set = hashes
                    .chunks_exact(8)
                    .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect();
                Ok(Hll::Explicit(set))
            }
            SPARSE => {
                let n = body.get(..4).ok_or_else(bad)?;
                let n = u32::from_le_bytes(n.try_into().expect("4 bytes")) as usize;
                let pairs = &body[4..];
                if pairs.len() != 3 * n {
                    return Err(bad());
                }
                let mut regs = Box::new([0u8; REGISTERS]);
                for p in pairs.chunks_exact(3) {
                    let i = u16::from_le_bytes([p[0], p[1]]) as usize;
                    *regs.get_mut(i).ok_or_else(bad)? = p[2];
                }
                Ok(Hll::Registers(regs))
            }
            FULL if body.len() == REGISTERS => {
                let regs: Box<[u8; REGISTERS]> = body
                    .to_vec()
                    .into_boxed_slice()
                    .try_into()
                    .map_err(|_| bad())?;
                Ok(Hll::Registers(regs))
            }
            _ => Err(bad()),
        }
    }
}

/// The register of a hash: its low 14 bits pick it, and it keeps the
/// largest position of the first set bit among the rest.
fn set_register(regs: &mut [u8; REGISTERS], hash: u64) {
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> PRECISION) | (1 << (64 - PRECISION));
    let rank = rest.trailing_zeros() as u8 + 1;
    regs[index] = regs[index].max(rank);
}

/// `hll_hash`'s hash of a value's text.
pub fn hash(text: &[u8]) -> u64 {
    murmur2::murmur64a(text, SEED)
}

fn hlls(a: &ArrayRef) -> Result<Vec<Option<Hll>>> {
    a.as_binary::<i64>()
        .iter()
        .map(|v| v.map(Hll::decode).transpose())
        .collect()
}

fn array(values: impl Iterator<Item = Option<Hll>>) -> ArrayRef {
    Arc::new(
        values
            .map(|h| h.map(|h| h.encode()))
            .collect::<LargeBinaryArray>(),
    )
}

/// HLL values from their text, base64 of the serialized form (as
/// `hll_to_base64` writes it); NULL for text that is not one. How Stream
/// Load reads an HLL column, and how a `columns` mapping's HLL travels.
pub fn from_base64(text: &datafusion::arrow::array::StringArray) -> ArrayRef {
    let engine = base64::engine::general_purpose::STANDARD;
    array(text.iter().map(|s| {
        let bytes = engine.decode(s?.trim()).ok()?;
        Hll::decode(&bytes).ok()
    }))
}

pub fn to_base64(a: &ArrayRef) -> Result<datafusion::arrow::array::StringArray> {
    let engine = base64::engine::general_purpose::STANDARD;
    Ok(hlls(a)?
        .into_iter()
        .map(|h| h.map(|h| engine.encode(h.encode())))
        .collect())
}

/// Doris's scalar HLL functions.
pub fn udfs() -> Vec<ScalarUDF> {
    vec![
        // Any value hashes as its text; NULL gives an empty sketch, as in Doris.
        scalar("hll_hash", vec![DataType::Utf8], ARROW_TYPE, |a| {
            let text = a[0].as_string::<i32>();
            Ok(array((0..text.len()).map(|i| {
                Some(match text.is_null(i) {
                    true => Hll::Empty,
                    false => Hll::of_hash(hash(text.value(i).as_bytes())),
                })
            })))
        }),
        create_udf(
            "hll_empty",
            vec![],
            ARROW_TYPE,
            Volatility::Immutable,
            Arc::new(|_: &[ColumnarValue]| {
                Ok(ColumnarValue::Scalar(ScalarValue::LargeBinary(Some(
                    Hll::Empty.encode(),
                ))))
            }),
        ),
        scalar("hll_cardinality", vec![ARROW_TYPE], DataType::Int64, |a| {
            let out: Int64Array = hlls(&a[0])?
                .into_iter()
                .map(|h| Some(h.map_or(0, |h| h.cardinality())))
                .collect();
            Ok(Arc::new(out))
        }),
        scalar("hll_to_base64", vec![ARROW_TYPE], DataType::Utf8, |a| {
            Ok(Arc::new(to_base64(&a[0])?))
        }),
        scalar("hll_from_base64", vec![DataType::Utf8], ARROW_TYPE, |a| {
            Ok(from_base64(a[0].as_string::<i32>()))
        }),
    ]
}

/// The union of a group's sketches; `count` answers its cardinality instead.
#[derive(Debug, Default)]
struct Union {
    hll: Hll,
    count: bool,
}

impl Accumulator for Union {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for h in values[0].as_binary::<i64>().iter().flatten() {
            self.hll.merge(&Hll::decode(h)?);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::LargeBinary(Some(self.hll.encode()))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(match self.count {
            true => ScalarValue::Int64(Some(self.hll.cardinality())),
            false => ScalarValue::LargeBinary(Some(self.hll.encode())),
        })
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + match &self.hll {
                Hll::Empty => 0,
                Hll::Explicit(set) => 8 * set.len(),
                Hll::Registers(_) => REGISTERS,
            }
    }
}

fn union(name: &str, count: bool) -> AggregateUDF {
    let output = if count { DataType::Int64 } else { ARROW_TYPE };
    create_udaf(
        name,
        vec![ARROW_TYPE],
        Arc::new(output),
        Volatility::Immutable,
        Arc::new(move |_| {
            Ok(Box::new(Union {
                hll: Hll::Empty,
                count,
            }))
        }),
        Arc::new(vec![ARROW_TYPE]),
    )
}

/// `hll_union`: the HLL_UNION aggregation, also used to merge AGGREGATE
/// tables' HLL columns.
pub fn hll_union() -> AggregateUDF {
    union("hll_union", false)
}

/// `hll_union_agg`: the cardinality of a group's union.
pub fn hll_union_agg() -> AggregateUDF {
    union("hll_union_agg", true)
}

/// Doris's HLL aggregate functions (`hll_raw_agg` is `hll_union`'s other name).
pub fn udafs() -> Vec<AggregateUDF> {
    vec![hll_union(), union("hll_raw_agg", false), hll_union_agg()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sets_are_exact_and_large_ones_close() {
        let mut h = Hll::Empty;
        for i in 0..EXPLICIT_MAX as u64 {
            h.add(hash(i.to_string().as_bytes()));
            h.add(hash(i.to_string().as_bytes()));
        }
        assert_eq!(h.cardinality(), EXPLICIT_MAX as i64);
        for n in [1_000u64, 50_000, 1_000_000] {
            let mut h = Hll::Empty;
            (0..n).for_each(|i| h.add(hash(i.to_string().as_bytes())));
            let err = (h.cardinality() - n as i64).abs() as f64 / n as f64;
            assert!(err < 0.03, "{n}: {} ({err})", h.cardinality());
        }
    }

    #[test]
    fn every_form_round_trips_and_merges() {
        let mut sparse = Hll::Empty;
        (0..1_000u64).for_each(|i| sparse.add(hash(&i.to_le_bytes())));
        let mut full = Hll::Empty;
        (0..100_000u64).for_each(|i| full.add(hash(&i.to_le_bytes())));
        for h in [Hll::Empty, Hll::of_hash(7), sparse.clone(), full.clone()] {
            assert_eq!(Hll::decode(&h.encode()).unwrap(), h);
        }
        assert_eq!(sparse.encode()[0], SPARSE);
        assert_eq!(full.encode()[0], FULL);
        // The full set covers the sparse one: their union is the full set.
        let mut u = Hll::of_hash(hash(&5u64.to_le_bytes()));
        u.merge(&sparse);
        u.merge(&full);
        assert_eq!(u, full);
        assert!(Hll::decode(&[9]).is_err() && Hll::decode(&[1, 2, 0]).is_err());
    }
}
