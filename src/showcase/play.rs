//! `tracedojo showcase SCENARIO`: finds the scenario, starts the shop as `up` does (or finds a
//! running one with `--attach`), serves the kiosk page, reads the explorer for it, and plays
//! the scenario until Ctrl-C (or `--loops`), printing one line per act. On the way out the
//! scenario's faults are cleared and the shop it started is stopped.

use std::path::Path;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};
use tracedojo_faults::client::ControlClient;
use tracedojo_loadgen::http::Target;
use tracedojo_showcase::kiosk::{self, KioskConfig, lens};
use tracedojo_showcase::play::{self, NowPlaying, PlayConfig};
use tracedojo_showcase::{SCENARIO_FILES, Scenario, catalogue, scenario, validate};
use tracedojo_workshop::Lang;

use crate::cli::PlayArgs;
use crate::running::Running;

/// Presenter keys queued before the player takes them.
const KEYS_QUEUED: usize = 16;

pub async fn run(mut args: PlayArgs, lang: Lang) -> Result<(), String> {
    let (scenario, text) = find(args.scenario.as_deref(), lang)?;
    if !(play::MIN_SPEED..=play::MAX_SPEED).contains(&args.speed) || !args.speed.is_finite() {
        return Err(play::PlayError::Speed(args.speed).to_string());
    }
    // Every act's faults resolve before anything starts.
    for index in 0..scenario.acts.len() {
        play::faults_in_force(&scenario, index).map_err(|err| err.to_string())?;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for warning in validate::warnings(&scenario, &text, cores, args.speed) {
        eprintln!("{}: {warning}", lang.say("warning", "警告"));
    }
    kiosk::check_exposure(args.kiosk_listen, args.kiosk_token.as_deref())
        .map_err(|err| err.to_string())?;
    let listener = tokio::net::TcpListener::bind(args.kiosk_listen)
        .await
        .map_err(|err| {
            if err.kind() == std::io::ErrorKind::AddrInUse {
                format!(
                    "port {} is already in use (another showcase?); choose another with --kiosk-listen",
                    args.kiosk_listen.port()
                )
            } else {
                format!("the kiosk cannot listen on {}: {err}", args.kiosk_listen)
            }
        })?;
    let kiosk_address = listener
        .local_addr()
        .map_err(|err| format!("the kiosk's address: {err}"))?;

    let control_token = args.up.control_token.clone();
    // The shop: a running one, or one started here that stops when the showcase does.
    let (stop_shop, shop_stopped) = oneshot::channel::<()>();
    let (running, shop) = if args.attach {
        (attached(&args)?, None)
    } else {
        if args.fresh {
            empty_shop_data(&args.up.data_dir)?;
            let database = crate::database::shop_database_url(args.up.database_url.as_deref())
                .map_err(|err| err.to_string())?;
            if let Some(url) = database {
                crate::database::empty_shop(&url)
                    .await
                    .map_err(|err| err.to_string())?;
            }
        }
        if args.up.no_load {
            eprintln!("note: the scenario's acts give the traffic; --no-load changes nothing");
        }
        args.up.no_load = true;
        let (ready, started) = oneshot::channel();
        let up = args.up;
        let shop = tokio::spawn(crate::up::run_until(
            up,
            async move {
                let _ = shop_stopped.await;
            },
            Some(ready),
        ));
        match started.await {
            Ok(running) => (running, Some(shop)),
            Err(_) => {
                // `up` ended before the shop ran: its error says why.
                return Err(match shop.await {
                    Ok(Err(err)) => format!("{err:#}"),
                    _ => "the shop stopped before it started".to_string(),
                });
            }
        }
    };
    let shop_url = running.shop.clone().unwrap_or_default();
    let target = Target::parse(&shop_url).map_err(|err| format!("--shop {err}"))?;
    let control_url = running.control.clone().unwrap_or_default();
    let control = ControlClient::new(&control_url, control_token).map_err(|err| err.to_string())?;

    let (commands, keys) = mpsc::channel(KEYS_QUEUED);
    let (now_tx, now_rx) = watch::channel(NowPlaying::default());
    let (view_tx, view_rx) = watch::channel(lens::View::default());
    let (stop_side, side_stopped) = watch::channel(false);
    let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let japanese = lang == Lang::Ja;
    let kiosk_task = tokio::spawn(kiosk::serve(
        listener,
        KioskConfig {
            scenario: scenario.clone(),
            lang: if japanese { "ja" } else { "en" },
            speed: args.speed,
            token: args.kiosk_token.clone(),
            now: now_rx.clone(),
            lens: view_rx,
            commands,
        },
        until_stopped(side_stopped.clone()),
    ));
    let lens_task = match running.explorer.as_deref() {
        Some(explorer) => {
            let explorer = lens::Explorer::new(explorer, running.participant.clone())?;
            Some(tokio::spawn(lens::watch_explorer(
                explorer,
                scenario.clone(),
                args.speed,
                now_rx.clone(),
                view_tx,
                until_stopped(side_stopped.clone()),
            )))
        }
        None => {
            view_tx.send_replace(lens::View {
                problem: Some(lang.say(
                    "no explorer runs (--no-explorer): the page shows the acts only",
                    "explorer が動いていない（--no-explorer）ため、ページにはシーンの字幕だけを表示します",
                )),
                ..lens::View::default()
            });
            None
        }
    };
    let console = tokio::spawn(announce(scenario.clone(), now_rx, japanese));

    println!(
        "{}",
        lang.say(
            format!(
                "showcase: {} ({}), a loop of {} s at speed {}; the shop at {shop_url}",
                scenario.name(),
                scenario.title(false),
                (scenario.loop_seconds() as f64 / args.speed).round(),
                args.speed
            ),
            format!(
                "ショーケース: {}（{}）、1 ループ {} 秒（速度 {}）。ショップ: {shop_url}",
                scenario.name(),
                scenario.title(true),
                (scenario.loop_seconds() as f64 / args.speed).round(),
                args.speed
            ),
        )
    );
    println!(
        "kiosk: {}",
        kiosk::page_url(kiosk_address, args.kiosk_token.as_deref())
    );
    println!(
        "{}",
        lang.say(
            "keys on the page: space pause/resume · → next act · ← previous · L language · T talk track · Ctrl-C here stops",
            "ページのキー: スペース 一時停止/再開 · → 次のシーン · ← 前のシーン · L 言語切替 · T トーク台本 · ここで Ctrl-C を押すと終了",
        )
    );

    let played = play::play(
        &scenario,
        PlayConfig {
            shop: target,
            control,
            speed: args.speed,
            loops: args.loops,
            seed: args.seed,
        },
        keys,
        now_tx,
        tracedojo_kit::shutdown::signal(),
    )
    .await;

    let _ = stop_side.send(true);
    let _ = kiosk_task.await;
    if let Some(lens_task) = lens_task {
        let _ = lens_task.await;
    }
    console.abort();
    let _ = stop_shop.send(());
    if let Some(shop) = shop {
        match shop.await {
            Ok(Err(err)) => eprintln!("the shop did not stop cleanly: {err:#}"),
            Err(err) => eprintln!("the shop did not stop cleanly: {err}"),
            Ok(Ok(())) => {}
        }
    }
    played.map_err(|err| err.to_string())
}

/// The scenario named (built in) or the file given, with its text (for warnings' lines).
fn find(wanted: Option<&str>, lang: Lang) -> Result<(Scenario, String), String> {
    let names = || {
        catalogue()
            .map(|all| {
                all.iter()
                    .map(|s| s.name().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let Some(wanted) = wanted else {
        return Err(lang.say(
            format!(
                "name a scenario to play, e.g. `tracedojo showcase slow-payment`; built in: {} (or give a scenario file)",
                names()
            ),
            format!(
                "再生するシナリオを指定してください（例: `tracedojo showcase slow-payment`）。組み込み: {}（シナリオファイルも指定できます）",
                names()
            ),
        ));
    };
    let path = Path::new(wanted);
    if wanted.ends_with(".toml") || path.exists() {
        let text = std::fs::read_to_string(path).map_err(|err| {
            lang.say(
                format!("cannot read {wanted}: {err}"),
                format!("{wanted} を読み込めません: {err}"),
            )
        })?;
        let scenario = scenario::parse(wanted, &text).map_err(|err| err.to_string())?;
        return Ok((scenario, text));
    }
    let scenario = tracedojo_showcase::find(wanted).map_err(|err| err.to_string())?;
    let text = SCENARIO_FILES
        .iter()
        .find(|(file, _)| *file == scenario.file)
        .map(|(_, text)| text.to_string())
        .unwrap_or_default();
    Ok((scenario, text))
}

/// `--fresh`: removes the shop's databases (each service's and the queue's, with their
/// journals) from `dir`, unless a shop still runs from it.
fn empty_shop_data(dir: &Path) -> Result<(), String> {
    if let Some(pid) = crate::running::read_pid(dir).filter(|pid| crate::running::alive(*pid)) {
        return Err(format!(
            "--fresh: a shop (pid {pid}) is running from {}; stop it first (Ctrl-C where it runs; if it is gone, delete running.json there)",
            dir.display()
        ));
    }
    let names = crate::ports::SERVICES
        .iter()
        .map(|(name, _)| *name)
        .chain(["queue"]);
    for name in names {
        for suffix in ["db", "db-wal", "db-shm"] {
            let path = dir.join(format!("{name}.{suffix}"));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    return Err(format!("--fresh: cannot remove {}: {err}", path.display()));
                }
            }
        }
    }
    Ok(())
}

/// Where a running shop is: flags first, then what its `up` wrote to the data directory.
fn attached(args: &PlayArgs) -> Result<Running, String> {
    let found = crate::running::read(&args.up.data_dir);
    let running = Running {
        shop: args.shop.clone().or(found.shop),
        explorer: args.explorer.clone().or(found.explorer),
        control: args.control.clone().or(found.control),
        participant: args.up.participant.clone().or(found.participant),
    };
    if running.shop.is_none() || running.control.is_none() {
        return Err(format!(
            "--attach found no running shop in {} (no running.json); start `tracedojo up` first, give --shop and --control, or leave out --attach to start one",
            args.up.data_dir.display()
        ));
    }
    Ok(running)
}

/// One console line per act: what the presenter would read on the page.
async fn announce(scenario: Scenario, mut now: watch::Receiver<NowPlaying>, japanese: bool) {
    let mut shown = (0, usize::MAX);
    let mut trouble: Option<String> = None;
    while now.changed().await.is_ok() {
        let playing = now.borrow_and_update().clone();
        if playing.finished {
            return;
        }
        if playing.loop_number > 0 && (playing.loop_number, playing.act) != shown {
            shown = (playing.loop_number, playing.act);
            let act = &scenario.acts[playing.act];
            let seconds = Duration::from_millis(playing.act_ms).as_secs_f64();
            let (number, acts, name) = (playing.act + 1, scenario.acts.len(), act.name.get_ref());
            let caption = act.texts(japanese).caption.get_ref();
            if japanese {
                println!(
                    "[{}] ループ {} · シーン {number}/{acts} {name}（{seconds:.0} 秒）: {caption}",
                    clock(),
                    playing.loop_number
                );
            } else {
                println!(
                    "[{}] loop {} · act {number}/{acts} {name} ({seconds:.0} s): {caption}",
                    clock(),
                    playing.loop_number
                );
            }
        }
        if playing.trouble != trouble {
            match &playing.trouble {
                Some(why) if japanese => {
                    eprintln!("警告: このシーンの障害をまだ設定できていません: {why}")
                }
                Some(why) => eprintln!("warning: the act's faults are not set yet: {why}"),
                None if japanese => eprintln!("このシーンの障害を設定しました"),
                None => eprintln!("the act's faults are set"),
            }
            trouble = playing.trouble.clone();
        }
    }
}

/// `HH:MM:SS` UTC, for the console's act lines.
fn clock() -> String {
    let seconds = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60
    )
}
