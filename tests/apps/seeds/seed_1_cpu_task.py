import asyncio
from aster import FastAPI
app = FastAPI()
def cpu_bound_task():
    # Simulate a long-running CPU task
    result = 0
    for i in range(1000000):
        result += i
    return result
@app.get("/cpu-task")
async def run_cpu_task():
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(None, cpu_bound_task)
    return {"result": result}
