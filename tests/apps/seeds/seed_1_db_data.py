from aster import FastAPI
import asyncpg
app = FastAPI()
async def get_db_connection():
    conn = await asyncpg.connect(user='user', password='password',
                                 database='mydb', host='127.0.0.1')
    return conn
@app.get("/db-data")
async def get_db_data():
    conn = await get_db_connection()
    try:
        rows = await conn.fetch("SELECT * FROM mytable")
        return [dict(row) for row in rows]
    finally:
        await conn.close()
