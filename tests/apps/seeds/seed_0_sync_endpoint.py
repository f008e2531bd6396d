from aster import FastAPI

app = FastAPI()

@app.get("/sync-endpoint")
def sync_endpoint():
    import time
    time.sleep(5)  # Simulate a long-running task
    return {"message": "This is a synchronous endpoint"}
