from aster import FastAPI
import asyncio
app = FastAPI()
@app.get("/async-route")
async def async_route():
    await asyncio.sleep(1)
    return {"message": "This is an async route"}
