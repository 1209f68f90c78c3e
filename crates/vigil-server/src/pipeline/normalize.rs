//! From a decoder's record to the event Sigma rules see: Windows events get
//! the view of the Windows mapping (the same one `vigil hunt` uses), every
//! other record keeps the log source its decoder gave.

use serde_json::{Map, Value};
use vigil_core::Event;
use vigil_decode::record::{decode_json_record, LogSourceTag};
use vigil_sigma::logsource::EventSource;
use vigil_sigma::windows::WindowsMapping;

pub struct Normalizer {
    windows: WindowsMapping,
}

impl Normalizer {
    pub fn new() -> Normalizer {
        Normalizer {
            windows: WindowsMapping::embedded(),
        }
    }

    /// An event from the HTTP API: recognised shapes (Suricata EVE, Zeek,
    /// Winlogbeat, NXLog) get their common names and log source.
    pub fn json_event(&self, mut event: Event) -> (Event, EventSource) {
        let doc = std::mem::take(&mut event.doc);
        let mut record = decode_json_record(doc);
        let recognised = record.source.product.is_some()
            || record.doc.get("Event").is_some_and(Value::is_object);
        // The EVTX shape (`{"Event": {"System": ..}}`, from an EVTX import
        // or a shipper that keeps it) is a Windows event too.
        if record.source.product.is_none() && record.doc.get("Event").is_some_and(Value::is_object)
        {
            record.source.product = Some("windows".into());
        }
        event.doc = record.doc;
        if let Some(time) = record.time {
            event.time = time;
        }
        let source = self.tag(&record.source, &mut event.doc);
        if recognised {
            // What is stored is what is indexed (a replay after a crash
            // indexes the stored text again), so a normalized event is
            // stored normalized, with the text as sent in `event.original`.
            let original = std::mem::take(&mut event.raw);
            event.doc.insert("event.original".into(), original.into());
            event.raw = serde_json::to_string(&event.doc).unwrap_or_default();
        }
        (event, source)
    }

    /// The Sigma log source of a decoded record; a Windows event's fields
    /// are put in the mapping's view on the way.
    pub fn tag(&self, tag: &LogSourceTag, doc: &mut Map<String, Value>) -> EventSource {
        let mut source = EventSource {
            product: tag.product.clone(),
            categories: tag.categories.clone(),
            service: tag.service.clone(),
        };
        let is_windows = tag
            .product
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("windows"));
        if is_windows {
            let event = Value::Object(std::mem::take(doc));
            match self.windows.normalize(&event) {
                Some((mapped, fields)) => {
                    *doc = fields;
                    source.service = source.service.or(mapped.service);
                    for category in mapped.categories {
                        if !source.categories.contains(&category) {
                            source.categories.push(category);
                        }
                    }
                }
                None => {
                    if let Value::Object(original) = event {
                        *doc = original;
                    }
                }
            }
        }
        source
    }
}

impl Default for Normalizer {
    fn default() -> Self {
        Self::new()
    }
}
