from aster import FastAPI
import httpx
app = FastAPI()
@app.get("/external-api")
async def get_external_api_data():
    async with httpx.AsyncClient() as client:
        response = await client.get("https://api.example.com/data")
        return response.json()
