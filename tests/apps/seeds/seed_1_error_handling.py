from aster import FastAPI
import asyncio
app = FastAPI()
@app.get("/error-handling")
async def error_handling():
    try:
        await asyncio.sleep(1)
        # Simulate an error
        raise ValueError("Something went wrong")
    except ValueError as e:
        return {"error": str(e)}
