from aster import FastAPI
import asyncio
app = FastAPI()
@app.middleware("http")
async def add_process_time_header(request, call_next):
    start_time = asyncio.get_event_loop().time()
    response = await call_next(request)
    process_time = asyncio.get_event_loop().time() - start_time
    response.headers["X-Process-Time"] = str(process_time)
    return response
@app.get("/")
async def read_root():
    return {"Hello": "World"}
