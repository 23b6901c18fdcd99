//! The connection layer against the lab: each failure an action must tell
//! apart arrives with its phase and SQLSTATE, not as flattened text.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use fleetdeck_core::conninfo::ConnInfo;
use fleetdeck_core::pg::{self, Cause, Phase};

use crate::common::lab_fleet;

const T: Duration = Duration::from_secs(5);

fn action_login(node: &str) -> ConnInfo {
    let fleet = lab_fleet();
    let p = fleet.postgres.iter().find(|p| p.name == node).unwrap_or_else(|| panic!("no node {node}"));
    p.action.clone().expect("the lab gives every node an action login")
}

#[tokio::test]
async fn a_lock_timeout_is_55p03_in_the_query_phase() {
    let info = action_login("pg0");
    let (holder, _) = pg::connect(&info, "fleetdeck-test-holder", T).await.expect("connect");
    let (waiter, _) = pg::connect(&info, "fleetdeck-test-waiter", T).await.expect("connect");
    holder.batch_execute("CREATE TABLE IF NOT EXISTS fleetdeck_test_lock (id int)").await.unwrap();
    holder.batch_execute("BEGIN; LOCK TABLE fleetdeck_test_lock IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let e = waiter
        .batch_execute("SET lock_timeout = '100ms'; LOCK TABLE fleetdeck_test_lock IN ACCESS SHARE MODE")
        .await
        .expect_err("the table is locked by the holder");
    let e = pg::PgError::from_driver("pg0", Phase::Query, Some("LOCK"), &e);
    holder.batch_execute("ROLLBACK; DROP TABLE fleetdeck_test_lock").await.unwrap();
    assert!(e.is_lock_timeout(), "a lock timeout must be recognisable to retry later: {e:?}");
    assert!(!e.is_connection_lost() && !e.is_read_only(), "{e:?}");
    assert_eq!(e.phase, Phase::Query);
}

#[tokio::test]
async fn a_write_on_a_standby_is_25006_read_only() {
    let (client, _) = pg::connect(&action_login("pg1"), "fleetdeck-test", T).await.expect("connect");
    let e = client.batch_execute("CREATE TABLE fleetdeck_never (id int)").await.expect_err("pg1 is a standby");
    let e = pg::PgError::from_driver("pg1", Phase::Query, Some("CREATE TABLE"), &e);
    assert!(e.is_read_only(), "a fenced or standby node refuses writes with 25006: {e:?}");
    assert!(e.to_string().contains("25006"), "the code is shown too: {e}");
}

#[tokio::test]
async fn a_terminated_session_is_a_lost_connection() {
    let info = action_login("pg0");
    let (victim, _) = pg::connect(&info, "fleetdeck-test-victim", T).await.expect("connect");
    let (admin, _) = pg::connect(&info, "fleetdeck-test-admin", T).await.expect("connect");
    let pid: i32 = victim.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    admin.execute("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap();
    // The termination arrives asynchronously (pg_terminate_backend only signals);
    // a statement after the backend has exited sees it. Polled up to a deadline,
    // not a count of tries, which a loaded machine can run through before the
    // backend is scheduled.
    let mut lost = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        match victim.simple_query("SELECT 1").await {
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(e) => {
                lost = Some(pg::PgError::from_driver("pg0", Phase::Query, Some("SELECT 1"), &e));
                break;
            }
        }
    }
    let e = lost.expect("a terminated backend must fail the next statement");
    assert!(e.is_connection_lost(), "57P01 or a closed connection: {e:?}");
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_failure_with_class_28() {
    let fleet = lab_fleet();
    let monitor = &fleet.postgres[0].monitor;
    let dir = std::env::temp_dir().join(format!("fleetdeck-pg-auth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let passfile = dir.join("pgpass");
    std::fs::write(&passfile, "*:*:*:*:certainly-not-the-password\n").unwrap();
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
    let info = ConnInfo { passfile: Some(passfile), ..monitor.clone() };
    let Err(e) = pg::connect(&info, "fleetdeck-test", T).await else { panic!("a wrong password must be refused") };
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(e.phase, Phase::Auth, "{e:?}");
    assert!(e.sqlstate().is_some_and(|c| c.starts_with("28")), "{e:?}");
}

#[tokio::test]
async fn a_closed_port_fails_in_the_connect_phase_without_a_sqlstate() {
    let info: ConnInfo = "host=127.0.0.1 port=1 dbname=x user=x sslmode=disable".parse().unwrap();
    let Err(e) = pg::connect(&info, "fleetdeck-test", T).await else { panic!("nothing listens on port 1") };
    assert_eq!((e.phase, &e.cause), (Phase::Connect, &Cause::Client), "{e:?}");
    assert!(e.to_string().contains("127.0.0.1:1"), "the address is named: {e}");
}
