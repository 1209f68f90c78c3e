//! The store against a model: any sequence of appends (in and out of
//! order, several series, extreme times and values), flushes and reopens
//! reads back exactly the samples the model accepted.

use proptest::prelude::*;
use std::collections::BTreeMap;
use vigil_core::TenantId;
use vigil_metrics::{MetricStore, Sample, SeriesKey, StoreOptions};

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<(usize, i64, u64)>),
    Flush,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let time = prop_oneof![
        4 => -50_000_000i64..50_000_000,
        1 => any::<i64>(),
    ];
    let value = prop_oneof![
        2 => (0u64..10_000).prop_map(|n| (n as f64 / 100.0).to_bits()),
        1 => any::<u64>(),
    ];
    prop_oneof![
        6 => proptest::collection::vec((0usize..4, time, value), 0..40).prop_map(Op::Append),
        1 => Just(Op::Flush),
        1 => Just(Op::Reopen),
    ]
}

const T: TenantId = TenantId(7);

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn reads_back_what_the_model_accepted(ops in proptest::collection::vec(op(), 1..12)) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = MetricStore::open(dir.path(), StoreOptions::default()).unwrap();
        let keys: Vec<SeriesKey> = (0..4).map(|i| SeriesKey::new("m", [("i", i.to_string())]).unwrap()).collect();
        let mut model: Vec<BTreeMap<i64, u64>> = vec![BTreeMap::new(); 4];
        for op in ops {
            match op {
                Op::Append(samples) => {
                    let batch: Vec<Sample> = samples
                        .iter()
                        .map(|&(i, t, v)| Sample { series: store.series_id(T, &keys[i]).unwrap(), t, v: f64::from_bits(v) })
                        .collect();
                    let report = store.append(T, &batch).unwrap();
                    let mut accepted = 0;
                    for &(i, t, v) in &samples {
                        if model[i].last_key_value().is_none_or(|(&last, _)| t > last) {
                            model[i].insert(t, v);
                            accepted += 1;
                        }
                    }
                    prop_assert_eq!(report.accepted, accepted);
                }
                Op::Flush => store.flush().unwrap(),
                Op::Reopen => {
                    drop(store);
                    store = MetricStore::open(dir.path(), StoreOptions::default()).unwrap();
                }
            }
            for (i, want) in model.iter().enumerate() {
                let got = store.query(T, &format!(r#"m{{i="{i}"}}"#), i64::MIN, i64::MAX, 0).unwrap();
                let got: Vec<(i64, u64)> = got.first().map(|s| s.points.iter().map(|p| (p.0, p.1.to_bits())).collect()).unwrap_or_default();
                let want: Vec<(i64, u64)> = want.iter().map(|(&t, &v)| (t, v)).collect();
                prop_assert_eq!(got, want, "series {}", i);
            }
        }
    }
}
