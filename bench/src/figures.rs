//! The benchmarks' output: a table of figures with their targets, and the number formats the
//! figures are written in.

/// One row of the final table.
pub struct Row {
    figure: String,
    value: String,
    target: String,
    met: Option<bool>,
}

#[derive(Default)]
pub struct Table {
    rows: Vec<Row>,
}

impl Table {
    pub fn add(&mut self, figure: &str, value: String, target: &str, met: Option<bool>) {
        self.rows.push(Row {
            figure: figure.to_string(),
            value,
            target: target.to_string(),
            met,
        });
    }

    pub fn info(&mut self, figure: &str, value: String) {
        self.add(figure, value, "", None);
    }

    pub fn print(&self) {
        let widths = self.rows.iter().fold((6, 5, 6), |(f, v, t), row| {
            (
                f.max(row.figure.len()),
                v.max(row.value.len()),
                t.max(row.target.len()),
            )
        });
        let (f, v, t) = widths;
        println!();
        println!("{:<f$}  {:>v$}  {:<t$}  met", "figure", "value", "target");
        println!("{}", "-".repeat(f + v + t + 9));
        for row in &self.rows {
            let met = match row.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            println!(
                "{:<f$}  {:>v$}  {:<t$}  {met}",
                row.figure, row.value, row.target
            );
        }
    }
}

pub fn kib_to_bytes(kib: u64) -> f64 {
    kib as f64 * 1024.0
}

pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

pub fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn opt(n: Option<u64>) -> String {
    n.map_or_else(|| "n/a".to_string(), |n| thousands(n as f64))
}

/// The machine's load average over 1, 5 and 15 minutes, to say how quiet it was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
