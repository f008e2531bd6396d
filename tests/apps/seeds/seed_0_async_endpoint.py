from aster import FastAPI
import httpx

app = FastAPI()

@app.get("/async-endpoint")
async def async_endpoint():
    async with httpx.AsyncClient() as client:
        response = await client.get("https://api.example.com/data")
        data = response.json()
        return data
