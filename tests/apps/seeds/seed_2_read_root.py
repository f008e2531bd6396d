from aster import FastAPI
import asyncio

app = FastAPI()

@app.get("/")
async def read_root():
    await asyncio.sleep(1) # Simulate an I/O bound operation
    return {"Hello": "World"}
