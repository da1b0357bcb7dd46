//! The explorer's store on its own, in this process: the synthetic batches the explorer
//! benchmark sends, decoded from protobuf and inserted into a `SpanStore` one after another
//! on one thread, with no network, no gRPC framing and no other process in the way.
//!
//! It tells the two halves of the ingest cost apart (decoding a request, storing its spans),
//! shows whether storing slows down as the store fills (spans/s by quarter of the fill), and
//! gives a quick loop for profiling the store (`tracedojo-bench --store-ingest`).

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tracedojo_explorer::SpanStore;

use crate::synth::{BATCH_SPANS, Corpus, now_unix_nanos};

/// What one in-process fill measured.
pub struct StoreIngest {
    pub spans: u64,
    pub decode: Duration,
    pub insert: Duration,
    /// Insert time of each quarter of the fill.
    pub insert_quarters: [Duration; 4],
}

impl StoreIngest {
    /// Spans decoded and stored per second of both.
    pub fn spans_per_second(&self) -> f64 {
        self.spans as f64 / (self.decode + self.insert).as_secs_f64()
    }

    pub fn insert_per_second(&self) -> f64 {
        self.spans as f64 / self.insert.as_secs_f64()
    }

    pub fn decode_per_second(&self) -> f64 {
        self.spans as f64 / self.decode.as_secs_f64()
    }

    /// Insert spans/s in each quarter.
    pub fn quarter_rates(&self) -> [f64; 4] {
        let per_quarter = self.spans as f64 / 4.0;
        self.insert_quarters
            .map(|d| per_quarter / d.as_secs_f64().max(1e-9))
    }
}

/// Decodes and stores `batches` requests of the corpus into a store with room for all of
/// them (nothing is evicted), timing decoding and storing apart.
pub fn fill(corpus: &Corpus, batches: u64) -> anyhow::Result<StoreIngest> {
    let spans = batches * BATCH_SPANS as u64;
    let store = SpanStore::with_bounds(spans as usize + 1, usize::MAX);
    let now = now_unix_nanos();
    let mut decode = Duration::ZERO;
    let mut insert = Duration::ZERO;
    let mut insert_quarters = [Duration::ZERO; 4];
    for index in 0..batches {
        let bytes = corpus.render(index, now);
        let started = Instant::now();
        let request = ExportTraceServiceRequest::decode(bytes)?;
        let decoded = Instant::now();
        store.insert_request(request);
        let took = decoded.elapsed();
        decode += decoded - started;
        insert += took;
        insert_quarters[(index * 4 / batches.max(1)) as usize] += took;
    }
    let stored = store.with_table(|table| table.span_count()) as u64;
    anyhow::ensure!(
        stored == spans,
        "the store holds {stored} spans of the {spans} inserted"
    );
    Ok(StoreIngest {
        spans,
        decode,
        insert,
        insert_quarters,
    })
}
