//! Typed pollers: the few MIB objects the NOC charts, read into structs.
//!
//! Tables are read column by column with walks (each column is one
//! subtree), then joined on the row index, so a column an agent lacks
//! (ifXTable on an old device) leaves its fields empty instead of failing
//! the whole poll.

use crate::ber::{Value, VarBind};
use crate::client::{Client, Error};
use crate::oid::{oid, Oid};
use crate::rates::CounterWidth;
use serde::Serialize;
use std::collections::BTreeMap;

const SYS_DESCR: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 1, 0];
const SYS_UPTIME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 3, 0];
const SYS_NAME: [u32; 9] = [1, 3, 6, 1, 2, 1, 1, 5, 0];
/// ifEntry (IF-MIB).
const IF_ENTRY: [u32; 9] = [1, 3, 6, 1, 2, 1, 2, 2, 1];
/// ifXEntry (IF-MIB).
const IFX_ENTRY: [u32; 10] = [1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
/// hrProcessorLoad (HOST-RESOURCES-MIB).
const HR_PROCESSOR_LOAD: [u32; 11] = [1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];
/// hrStorageEntry (HOST-RESOURCES-MIB).
const HR_STORAGE_ENTRY: [u32; 10] = [1, 3, 6, 1, 2, 1, 25, 2, 3, 1];

/// The system group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemInfo {
    pub sys_descr: String,
    pub sys_name: String,
    /// sysUpTime in hundredths of a second: how long the agent has run.
    pub uptime_ticks: u32,
}

/// One interface (ifTable joined with ifXTable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct IfRow {
    pub index: u32,
    /// ifName when the agent has it, else ifDescr.
    pub name: String,
    pub descr: String,
    /// ifOperStatus: 1 up, 2 down, 3 testing, 4 unknown, 5 dormant,
    /// 6 notPresent, 7 lowerLayerDown; 0 when missing.
    pub oper_status: u8,
    /// ifAdminStatus: 1 up, 2 down (shut by an operator), 3 testing; 0
    /// when missing. An interface shut on purpose is not an outage.
    pub admin_status: u8,
    pub speed_bps: u64,
    /// ifHCInOctets, else ifInOctets (see `octets_width`).
    pub in_octets: u64,
    pub out_octets: u64,
    /// Whether the octet counters are 64-bit (ifXTable) or 32-bit.
    pub octets_width: CounterWidth,
    pub in_errors: u32,
    pub out_errors: u32,
    pub in_discards: u32,
    pub out_discards: u32,
}

impl IfRow {
    pub fn is_up(&self) -> bool {
        self.oper_status == 1
    }
}

/// One hrStorage row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Storage {
    pub index: u32,
    pub descr: String,
    pub used_bytes: u64,
    pub size_bytes: u64,
}

/// What HOST-RESOURCES-MIB says of load and storage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostResources {
    /// hrProcessorLoad per processor: percent busy over the last minute.
    pub cpu_loads: Vec<u8>,
    pub storage: Vec<Storage>,
}

/// The value is the agent's: its type is named, never its content.
fn missing(what: &str, oid: &Oid, value: &Value) -> Error {
    let kind = match value {
        Value::Null => "null",
        Value::NoSuchObject | Value::NoSuchInstance => "missing",
        Value::EndOfMibView => "past the end of the MIB",
        _ => "of another type",
    };
    Error::Unexpected(format!("{what} ({oid}) is {kind}"))
}

/// sysDescr, sysName and sysUpTime.
pub async fn system(client: &Client) -> Result<SystemInfo, Error> {
    let oids = [oid(&SYS_DESCR), oid(&SYS_UPTIME), oid(&SYS_NAME)];
    let vbs = client.get(&oids).await?;
    let [descr, uptime, name] = &vbs[..] else {
        return Err(Error::Unexpected(format!(
            "{} varbinds for 3 asked",
            vbs.len()
        )));
    };
    let uptime_ticks = match uptime.value {
        Value::TimeTicks(t) => t,
        ref v => return Err(missing("sysUpTime", &uptime.oid, v)),
    };
    Ok(SystemInfo {
        sys_descr: descr.value.as_text().unwrap_or_default(),
        sys_name: name.value.as_text().unwrap_or_default(),
        uptime_ticks,
    })
}

/// A column walked into index → value (the index is the last arc).
async fn column(client: &Client, entry: &[u32], col: u32) -> Result<BTreeMap<u32, Value>, Error> {
    let root = oid(entry).child(col);
    let rows = client.walk(&root).await?;
    Ok(rows
        .into_iter()
        .filter(|vb: &VarBind| vb.oid.arcs().len() == root.arcs().len() + 1)
        .map(|vb| (vb.oid.last(), vb.value))
        .collect())
}

fn u32_of(col: &BTreeMap<u32, Value>, index: u32) -> Option<u32> {
    col.get(&index)?.as_u64().map(|v| v as u32)
}

fn u64_of(col: &BTreeMap<u32, Value>, index: u32) -> Option<u64> {
    col.get(&index)?.as_u64()
}

fn text_of(col: &BTreeMap<u32, Value>, index: u32) -> Option<String> {
    col.get(&index)?.as_text()
}

/// The interface speed: ifSpeed is exact in bits per second but stops at
/// 4294967295, ifHighSpeed is in whole megabits; take ifSpeed unless it
/// saturates or is missing, else ifHighSpeed times a million.
pub fn speed_bps(if_speed: Option<u32>, if_high_speed: Option<u32>) -> u64 {
    match (if_speed, if_high_speed) {
        (Some(s), _) if s != u32::MAX && s != 0 => u64::from(s),
        (_, Some(h)) if h != 0 => u64::from(h) * 1_000_000,
        (s, _) => u64::from(s.unwrap_or(0)),
    }
}

/// Every interface, with 64-bit octet counters where the agent has them.
pub async fn interfaces(client: &Client) -> Result<Vec<IfRow>, Error> {
    let descr = column(client, &IF_ENTRY, 2).await?;
    let speed = column(client, &IF_ENTRY, 5).await?;
    let admin = column(client, &IF_ENTRY, 7).await?;
    let oper = column(client, &IF_ENTRY, 8).await?;
    let in_octets = column(client, &IF_ENTRY, 10).await?;
    let in_discards = column(client, &IF_ENTRY, 13).await?;
    let in_errors = column(client, &IF_ENTRY, 14).await?;
    let out_octets = column(client, &IF_ENTRY, 16).await?;
    let out_discards = column(client, &IF_ENTRY, 19).await?;
    let out_errors = column(client, &IF_ENTRY, 20).await?;
    let name = column(client, &IFX_ENTRY, 1).await?;
    let hc_in = column(client, &IFX_ENTRY, 6).await?;
    let hc_out = column(client, &IFX_ENTRY, 10).await?;
    let high_speed = column(client, &IFX_ENTRY, 15).await?;
    let rows = descr.keys().map(|&i| {
        let hc = hc_in.contains_key(&i) && hc_out.contains_key(&i);
        let (in_oct, out_oct, width) = if hc {
            (u64_of(&hc_in, i), u64_of(&hc_out, i), CounterWidth::Bits64)
        } else {
            (
                u64_of(&in_octets, i),
                u64_of(&out_octets, i),
                CounterWidth::Bits32,
            )
        };
        let descr = text_of(&descr, i).unwrap_or_default();
        IfRow {
            index: i,
            name: text_of(&name, i)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| descr.clone()),
            descr,
            oper_status: u32_of(&oper, i).map_or(0, |s| s.min(255) as u8),
            admin_status: u32_of(&admin, i).map_or(0, |s| s.min(255) as u8),
            speed_bps: speed_bps(u32_of(&speed, i), u32_of(&high_speed, i)),
            in_octets: in_oct.unwrap_or(0),
            out_octets: out_oct.unwrap_or(0),
            octets_width: width,
            in_errors: u32_of(&in_errors, i).unwrap_or(0),
            out_errors: u32_of(&out_errors, i).unwrap_or(0),
            in_discards: u32_of(&in_discards, i).unwrap_or(0),
            out_discards: u32_of(&out_discards, i).unwrap_or(0),
        }
    });
    Ok(rows.collect())
}

/// hrStorageSize and hrStorageUsed are Integer32 in allocation units;
/// agents that count past 2^31 send them negative, so they are read as
/// the unsigned 32 bits they wrapped from.
fn units(col: &BTreeMap<u32, Value>, index: u32) -> u64 {
    match col.get(&index) {
        Some(Value::Integer(v)) => u64::from(*v as u32),
        Some(v) => v.as_u64().unwrap_or(0),
        None => 0,
    }
}

/// Processor loads and storage use.
pub async fn host_resources(client: &Client) -> Result<HostResources, Error> {
    let loads = client.walk(&oid(&HR_PROCESSOR_LOAD)).await?;
    let cpu_loads = loads
        .iter()
        .filter_map(|vb| vb.value.as_u64())
        .map(|v| v.min(100) as u8)
        .collect();
    let descr = column(client, &HR_STORAGE_ENTRY, 3).await?;
    let unit = column(client, &HR_STORAGE_ENTRY, 4).await?;
    let size = column(client, &HR_STORAGE_ENTRY, 5).await?;
    let used = column(client, &HR_STORAGE_ENTRY, 6).await?;
    let storage = descr
        .keys()
        .map(|&i| {
            let unit = units(&unit, i);
            Storage {
                index: i,
                descr: text_of(&descr, i).unwrap_or_default(),
                used_bytes: units(&used, i).saturating_mul(unit),
                size_bytes: units(&size, i).saturating_mul(unit),
            }
        })
        .collect();
    Ok(HostResources { cpu_loads, storage })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_prefers_the_exact_if_speed() {
        assert_eq!(speed_bps(Some(100_000_000), Some(100)), 100_000_000);
        assert_eq!(speed_bps(Some(u32::MAX), Some(10_000)), 10_000_000_000);
        assert_eq!(speed_bps(None, Some(25_000)), 25_000_000_000);
        assert_eq!(speed_bps(Some(0), Some(0)), 0);
        assert_eq!(speed_bps(None, None), 0);
        assert_eq!(speed_bps(Some(0), Some(40)), 40_000_000);
    }

    #[test]
    fn negative_storage_units_are_unwrapped() {
        let mut col = BTreeMap::new();
        col.insert(1, Value::Integer(-1));
        col.insert(2, Value::Integer(4096));
        assert_eq!(units(&col, 1), u64::from(u32::MAX));
        assert_eq!(units(&col, 2), 4096);
        assert_eq!(units(&col, 3), 0);
    }
}
