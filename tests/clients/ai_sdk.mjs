// The Vercel AI SDK (`ai` + `@ai-sdk/openai`, Responses API), unmodified, against Responsa.
//   BASE_URL=http://127.0.0.1:PORT/v1 node tests/clients/ai_sdk.mjs <scenario>
// Prints one JSON line with what the scenario saw; tests/clients/test_node_clients.py checks it.
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';

const openai = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: 'test-key' });
const model = openai.responses('gpt-4o');
const script = (text, ...steps) => `${text} <<script>>${JSON.stringify(steps)}<</script>>`;

const scenarios = {
  // The documented multi-turn pattern; with store on (the default) turn 2 sends item_reference.
  async multiTurn() {
    const messages = [{ role: 'user', content: script('I am Ada.', { say: 'Noted, Ada.' }) }];
    const first = await generateText({ model, messages, maxRetries: 0 });
    messages.push(...first.response.messages);
    messages.push({ role: 'user', content: script('Who am I?', { say: 'You are Ada.' }) });
    const second = await generateText({ model, messages, maxRetries: 0 });
    return { first: first.text, second: second.text };
  },
  // A tool loop where the model writes text before its call.
  async toolLoop() {
    const calls = [];
    const weather = tool({
      description: 'Get the weather for a city',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        calls.push(city);
        return { city, sky: 'sunny' };
      },
    });
    const result = await generateText({
      model,
      maxRetries: 0,
      stopWhen: stepCountIs(3),
      tools: { weather },
      prompt: script(
        'Weather in Paris?',
        { say: 'Let me check.', calls: [{ name: 'weather', arguments: { city: 'Paris' } }] },
        { say: 'Result: {last_tool}' },
      ),
    });
    return { calls, steps: result.steps.length, text: result.text };
  },
  async stream() {
    const result = streamText({ model, maxRetries: 0, prompt: script('Count.', { say: 'One two three.' }) });
    let text = '';
    for await (const part of result.fullStream) {
      if (part.type === 'error') throw part.error;
      if (part.type === 'text-delta') text += part.text;
    }
    return { text, finishReason: await result.finishReason, usage: await result.usage };
  },
  // Structured output: text.format json_schema with strict.
  async structured() {
    const { Output } = await import('ai');
    const result = await generateText({
      model,
      maxRetries: 0,
      output: Output.object({ schema: z.object({ city: z.string(), days: z.number() }) }),
      prompt: script('Plan a trip.', { json: true }),
    });
    return { output: result.output };
  },
};

const name = process.argv[2];
try {
  console.log(JSON.stringify({ ok: true, ...(await scenarios[name]()) }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error), data: error?.responseBody ?? null }));
  process.exitCode = 1;
}
