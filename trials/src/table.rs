//! The result table: one set of typed columns ([`columns`]) written two ways, `results.csv`
//! ([`csv`]) and `results.parquet` ([`parquet`]: typed, nullable, lists as lists, for
//! pandas, polars, DuckDB or Spark).

use crate::runner::{Row, Trial};
use crate::Value;
use parquet::basic::{Compression, LogicalType, Repetition, Type as Physical};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;
use std::collections::BTreeSet;
use std::sync::Arc;

/// How a float column prints in the CSV.
#[derive(Clone, Copy)]
enum Digits {
    /// Shortest round-trip scientific (`1.5e-3`): the values as computed.
    Exact,
    /// Three decimals (wall times, latencies: measurements, not results).
    Milli,
}

/// A column's values, one per row.
enum Data {
    /// Unsigned integers (indices, seeds, counts; `None`: not applicable to the row).
    Count(Vec<Option<u64>>),
    /// Floats.
    Float(Vec<Option<f64>>, Digits),
    /// Booleans.
    Flag(Vec<bool>),
    /// Strings (`None`: absent; an empty CSV cell).
    Text(Vec<Option<String>>),
    /// Lists of strings (`;`-joined in the CSV).
    List(Vec<Vec<String>>),
}

/// A named column.
pub(crate) struct Column {
    name: String,
    data: Data,
}

fn col(name: impl Into<String>, data: Data) -> Column {
    Column {
        name: name.into(),
        data,
    }
}

/// The table's columns: the row's id and case, every drawn input, the verdict and what the
/// run measured, and (when a row has them) the plan's variables and the supervisor's
/// re-plans.
pub(crate) fn columns(trial: &Trial, rows: &[Row]) -> Vec<Column> {
    let each = |f: &dyn Fn(&Row) -> Option<f64>| rows.iter().map(f).collect::<Vec<_>>();
    let mut c = vec![
        col(
            "id",
            Data::Text(rows.iter().map(|r| Some(r.id.clone())).collect()),
        ),
        col(
            "case",
            Data::Count(rows.iter().map(|r| Some(r.case.index)).collect()),
        ),
        col(
            "repetition",
            Data::Count(
                rows.iter()
                    .map(|r| Some(r.case.repetition.into()))
                    .collect(),
            ),
        ),
        col(
            "seed",
            Data::Count(rows.iter().map(|r| Some(r.case.seed)).collect()),
        ),
        col(
            "behaviour",
            Data::Text(rows.iter().map(|r| Some(r.behaviour.clone())).collect()),
        ),
    ];
    for p in trial.design.params().keys() {
        let text = rows
            .iter()
            .any(|r| matches!(r.case.values.get(p), Some(Value::Text(_))));
        c.push(col(
            p.clone(),
            if text {
                Data::Text(
                    rows.iter()
                        .map(|r| match r.case.values.get(p) {
                            Some(Value::Text(s)) => Some(s.clone()),
                            Some(Value::Number(x)) => Some(format!("{x:e}")),
                            None => None,
                        })
                        .collect(),
                )
            } else {
                Data::Float(
                    each(&|r| r.case.values.get(p).and_then(Value::as_f64)),
                    Digits::Exact,
                )
            },
        ));
    }
    c.extend([
        col(
            "passed",
            Data::Flag(rows.iter().map(|r| r.passed).collect()),
        ),
        col(
            "failed",
            Data::List(rows.iter().map(|r| r.failed.clone()).collect()),
        ),
        col(
            "events",
            Data::List(rows.iter().map(|r| r.events.clone()).collect()),
        ),
        col(
            "peak_force_n",
            Data::Float(each(&|r| r.peak_force), Digits::Exact),
        ),
        col(
            "peak_damaged_fraction",
            Data::Float(each(&|r| r.peak_damaged_fraction), Digits::Exact),
        ),
        col(
            "guard",
            Data::Text(rows.iter().map(|r| r.guard.clone()).collect()),
        ),
        col(
            "simulated_time_s",
            Data::Float(each(&|r| Some(r.simulated_time)), Digits::Exact),
        ),
        col(
            "wall_time_s",
            Data::Float(each(&|r| Some(r.wall_time)), Digits::Milli),
        ),
        col(
            "backend",
            Data::Text(rows.iter().map(|r| Some(r.backend.clone())).collect()),
        ),
        col(
            "error",
            Data::Text(rows.iter().map(|r| r.error.clone()).collect()),
        ),
    ]);
    // A `plan` behaviour's variables, one column each (`plan.pitch_deg`, ...), when a row
    // has a plan.
    let plan_keys: BTreeSet<&String> = rows
        .iter()
        .filter_map(|r| r.plan.as_ref())
        .flat_map(|p| p.variables.keys())
        .collect();
    for k in &plan_keys {
        c.push(col(
            format!("plan.{k}"),
            Data::Float(
                each(&|r| r.plan.as_ref().and_then(|p| p.variables.get(*k).copied())),
                Digits::Exact,
            ),
        ));
    }
    if !plan_keys.is_empty() {
        c.push(col(
            "plan.planning_cost",
            Data::Float(
                each(&|r| r.plan.as_ref().map(|p| p.planning_cost)),
                Digits::Exact,
            ),
        ));
    }
    if rows.iter().any(|r| r.supervisor.is_some()) {
        let count = |f: &dyn Fn(&vesalius_cosim::plan::SupervisorSummary) -> u64| {
            Data::Count(rows.iter().map(|r| r.supervisor.as_ref().map(f)).collect())
        };
        let ms = |f: &dyn Fn(&vesalius_cosim::plan::SupervisorSummary) -> f64| {
            Data::Float(each(&|r| r.supervisor.as_ref().map(f)), Digits::Milli)
        };
        c.extend([
            col("replans", count(&|s| s.replans as u64)),
            col("replan_switches", count(&|s| s.switches as u64)),
            col("replan_probes", count(&|s| s.probes as u64)),
            col(
                "replan_triggers",
                Data::Text(
                    rows.iter()
                        .map(|r| {
                            r.supervisor.as_ref().map(|s| {
                                s.triggers
                                    .iter()
                                    .map(|(k, n)| format!("{k}={n}"))
                                    .collect::<Vec<_>>()
                                    .join(";")
                            })
                        })
                        .collect(),
                ),
            ),
            col("replan_latency_p50_ms", ms(&|s| s.latency_p50_ms)),
            col("replan_latency_max_ms", ms(&|s| s.latency_max_ms)),
        ]);
    }
    c
}

/// `results.csv`: a header and one record per row; absent values are empty cells.
pub(crate) fn csv(columns: &[Column]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns.iter().map(|c| c.name.as_str()))
        .expect("in memory");
    let n = columns.first().map_or(0, |c| c.len());
    for i in 0..n {
        w.write_record(columns.iter().map(|c| c.cell(i)))
            .expect("in memory");
    }
    w.into_inner().expect("in memory")
}

impl Column {
    fn len(&self) -> usize {
        match &self.data {
            Data::Count(v) => v.len(),
            Data::Float(v, _) => v.len(),
            Data::Flag(v) => v.len(),
            Data::Text(v) => v.len(),
            Data::List(v) => v.len(),
        }
    }

    fn cell(&self, i: usize) -> String {
        match &self.data {
            Data::Count(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
            Data::Float(v, Digits::Exact) => v[i].map(|x| format!("{x:e}")).unwrap_or_default(),
            Data::Float(v, Digits::Milli) => v[i].map(|x| format!("{x:.3}")).unwrap_or_default(),
            Data::Flag(v) => v[i].to_string(),
            Data::Text(v) => v[i].clone().unwrap_or_default(),
            Data::List(v) => v[i].join(";"),
        }
    }

    /// The column's Parquet type: optional leaves (a required one for flags), strings as
    /// UTF-8, counts as unsigned 64-bit, lists in the standard three-level LIST layout.
    fn parquet_type(&self) -> parquet::errors::Result<Type> {
        let leaf = |physical, logical: Option<LogicalType>, repetition| {
            Type::primitive_type_builder(&self.name, physical)
                .with_logical_type(logical)
                .with_repetition(repetition)
                .build()
        };
        match &self.data {
            Data::Count(_) => leaf(
                Physical::INT64,
                Some(LogicalType::Integer {
                    bit_width: 64,
                    is_signed: false,
                }),
                Repetition::OPTIONAL,
            ),
            Data::Float(..) => leaf(Physical::DOUBLE, None, Repetition::OPTIONAL),
            Data::Flag(_) => leaf(Physical::BOOLEAN, None, Repetition::REQUIRED),
            Data::Text(_) => leaf(
                Physical::BYTE_ARRAY,
                Some(LogicalType::String),
                Repetition::OPTIONAL,
            ),
            Data::List(_) => {
                let element = Type::primitive_type_builder("element", Physical::BYTE_ARRAY)
                    .with_logical_type(Some(LogicalType::String))
                    .with_repetition(Repetition::REQUIRED)
                    .build()?;
                let list = Type::group_type_builder("list")
                    .with_repetition(Repetition::REPEATED)
                    .with_fields(vec![Arc::new(element)])
                    .build()?;
                Type::group_type_builder(&self.name)
                    .with_logical_type(Some(LogicalType::List))
                    .with_repetition(Repetition::REQUIRED)
                    .with_fields(vec![Arc::new(list)])
                    .build()
            }
        }
    }
}

/// `results.parquet`: the same columns in one row group, Snappy-compressed.
pub(crate) fn parquet(columns: &[Column]) -> parquet::errors::Result<Vec<u8>> {
    let fields = columns
        .iter()
        .map(|c| c.parquet_type().map(Arc::new))
        .collect::<parquet::errors::Result<Vec<_>>>()?;
    let schema = Type::group_type_builder("trial")
        .with_fields(fields)
        .build()?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut file = SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(props))?;
    let mut group = file.next_row_group()?;
    let bytes = |s: &str| ByteArray::from(s.as_bytes().to_vec());
    // Definition levels of an optional leaf: 1 where present.
    let defined =
        |present: &mut dyn Iterator<Item = bool>| -> Vec<i16> { present.map(i16::from).collect() };
    for c in columns {
        let mut w = group.next_column()?.expect("a writer per schema column");
        match &c.data {
            Data::Count(v) => {
                // Unsigned 64-bit in INT64's bits, as the logical type says.
                let values: Vec<i64> = v.iter().flatten().map(|&x| x as i64).collect();
                let defs = defined(&mut v.iter().map(Option::is_some));
                w.typed::<Int64Type>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            Data::Float(v, _) => {
                let values: Vec<f64> = v.iter().flatten().copied().collect();
                let defs = defined(&mut v.iter().map(Option::is_some));
                w.typed::<DoubleType>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            Data::Flag(v) => {
                w.typed::<BoolType>().write_batch(v, None, None)?;
            }
            Data::Text(v) => {
                let values: Vec<ByteArray> = v.iter().flatten().map(|s| bytes(s)).collect();
                let defs = defined(&mut v.iter().map(Option::is_some));
                w.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), None)?;
            }
            Data::List(v) => {
                // Required list of required strings: definition 1 for an element, 0 for an
                // empty list; repetition 0 at a row's first entry, 1 after.
                let (mut values, mut defs, mut reps) = (Vec::new(), Vec::new(), Vec::new());
                for list in v {
                    if list.is_empty() {
                        defs.push(0);
                        reps.push(0);
                    }
                    for (j, s) in list.iter().enumerate() {
                        values.push(bytes(s));
                        defs.push(1);
                        reps.push(i16::from(j > 0));
                    }
                }
                w.typed::<ByteArrayType>()
                    .write_batch(&values, Some(&defs), Some(&reps))?;
            }
        }
        w.close()?;
    }
    group.close()?;
    file.into_inner()
}
