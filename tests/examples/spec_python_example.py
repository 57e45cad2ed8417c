"""The Python example of claude-flow-api.md § Code Examples, verbatim except for the lines marked `changed`: the
import, the base URL and the API key (placeholders in the spec). tests/test_sdk.py runs it against a live API.
"""

import os  # changed: the base URL and API key come from the environment

from stellarflow.client import AsyncStellarFlow as ClaudeFlowClient  # changed: the import line
import asyncio

# Initialize client
client = ClaudeFlowClient(
    api_key=os.environ["STELLARFLOW_API_KEY"],  # changed: a real key
    base_url=os.environ["STELLARFLOW_URL"]  # changed: the base URL
)

async def main():
    # Create an agent
    agent = await client.agents.create(
        type="coder",
        name="Python Expert",
        capabilities=["python", "django", "fastapi"]
    )
    
    # Create and assign task
    task = await client.tasks.create(
        type="code_generation",
        description="Create data processing pipeline",
        priority="high"
    )
    
    await client.tasks.assign(task.id, agent.id)
    
    # Wait for completion
    while True:
        status = await client.tasks.get_status(task.id)
        if status.status in ["completed", "failed"]:
            break
        await asyncio.sleep(5)
    
    # Get results
    result = await client.tasks.get_result(task.id)
    print(f"Task completed: {result.success}")
    
    # Create a swarm for complex project
    swarm = await client.swarms.create(
        name="ML Pipeline Development",
        topology="mesh",
        agents=[
            {"type": "ml-developer", "count": 2},
            {"type": "data-engineer", "count": 2},
            {"type": "tester", "count": 1}
        ]
    )
    
    # Monitor swarm progress
    async for update in client.swarms.stream_progress(swarm.id):
        print(f"Progress: {update.progress * 100:.1f}%")
        if update.progress >= 1.0:
            break

# Run the async main function
asyncio.run(main())
