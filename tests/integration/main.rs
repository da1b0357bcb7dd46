//! The integration tests: each module starts the real `tracedojo` binary (or a service's router)
//! on free ports, sends real HTTP and checks what a real OTLP receiver, the explorer's API, a
//! database or a headless browser got. A module per subject; `support` is what they share.
//!
//! They are one test binary so that the workspace links it once, and so that tests that mostly
//! wait (for a shop to start, a fault to show, a browser to draw) overlap one another. Run one
//! subject with `cargo test --test integration faults::`. Three tests that load the machine
//! heavily are binaries of their own (`showcase_symptoms`, `workshop_code`, `report_phases`),
//! so that cargo runs them alone.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod browser;
mod customers;
mod deploy_files;
mod doctor;
mod errors_ranking;
mod explain;
mod explore_cli;
mod explorer_browser;
mod explorer_pictures;
mod explorer_shop;
mod explorer_up;
mod export_health;
mod faults;
mod faults_catalog;
mod lesson_commands;
mod load;
mod load_target;
mod multi_host;
mod participant;
mod postgres;
mod propagators;
mod reliability;
mod report_posts;
mod retention;
mod shop_traces;
mod showcase_cli;
mod showcase_kiosk;
mod stop;
mod supervisor;
mod workshop;
mod workshop_board;
mod workshop_external;
