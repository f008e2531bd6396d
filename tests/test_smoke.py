from tests.support import request, serve


def test_demo_app_serves_health() -> None:
    with serve("app:app", "--app-dir", "examples") as server:
        response = request(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert response.status == 200
        assert response.header("content-type") == "application/json"
        assert b'"status": "ok"' in response.body
