import logging

from kfexplorer.app_log import LOG_FILE_NAME, setup_logging


def test_log_file_rotates_and_redacts_health_data(tmp_path):
    path = setup_logging(tmp_path)
    assert path == tmp_path / LOG_FILE_NAME
    log = logging.getLogger("kfexplorer.test")
    log.info("opened participant %s with %s and MONDO:0005453", "PT_ABCD1234", "HP:0001250")
    try:
        raise ValueError("bad row for BS_ZZZZ9999")
    except ValueError:
        log.exception("failed")
    for handler in logging.getLogger("kfexplorer").handlers:
        handler.flush()
    text = path.read_text()
    assert "opened participant" in text
    assert "PT_ABCD1234" not in text and "HP:0001250" not in text and "MONDO:0005453" not in text
    assert "BS_ZZZZ9999" not in text and "ValueError" in text
    assert setup_logging(tmp_path) == path  # idempotent: no second handler
    handlers = [h for h in logging.getLogger("kfexplorer").handlers if getattr(h, "baseFilename", "") == str(path)]
    assert len(handlers) == 1
    for h in handlers:
        logging.getLogger("kfexplorer").removeHandler(h)
        h.close()
