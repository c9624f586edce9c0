#!/usr/bin/env node
import{createRequire as __mdcoreRequire}from'node:module';const require=__mdcoreRequire(import.meta.url);
import{a as f,b,c as E,d as S}from"./chunks/chunk-PSABHBTT.js";import{h as g,j as l,k as m,l as v,m as h,n as $}from"./chunks/chunk-J3MGE5VX.js";import"./chunks/chunk-WXHCKP7K.js";import"./chunks/chunk-CJUDJ75Z.js";import"./chunks/chunk-L636WX3W.js";var u=class{masker=new $;out;verbose;depth=0;constructor(e={}){this.out=e.out??(r=>process.stdout.write(`${r}
`)),this.verbose=e.verbose??!1}line(e){let r="  ".repeat(this.depth);for(let o of this.mask(e).split(`
`))this.out(`${r}${o}`)}info(e){this.line(e)}debug(e){this.verbose&&this.line(`\xB7 ${e}`)}warning(e,r){this.line(`WARNING${r?` (${r})`:""}: ${e}`)}error(e,r){this.line(`ERROR${r?` (${r})`:""}: ${e}`)}async group(e,r){this.line(`\u25B8 ${e}`),this.depth+=1;try{return await r()}finally{this.depth-=1}}secret(e){this.masker.add(e)}mask(e){return this.masker.apply(e)}};function I(t){let e={},r=[],o=!1,p=!1;for(let n=0;n<t.length;n++){let s=t[n]??"";if(s==="--help"||s==="-h"){o=!0;continue}if(s==="--verbose"||s==="-v"){p=!0;continue}let i=/^--([a-z][a-z-]*)(?:=([\s\S]*))?$/.exec(s);if(!i){r.push(`unexpected argument "${s}"`);continue}let c=i[1]??"",a=i[2];if(a===void 0){let d=t[n+1];d===void 0||d.startsWith("--")?a="true":(a=d,n++)}e[c]=a}return{inputs:e,help:o,verbose:p,errors:r}}function y(){return`Usage: mdcore-upgrade --namespace NS --tag TAG [options]

Options (the action's inputs):
${m.map(e=>`  --${e.padEnd(20)} ${l[e].accepted}${l[e].default?` (default ${l[e].default})`:""}`).join(`
`)}
  --verbose              show every command
`}async function R(t){let e=I(t);if(e.help)return process.stdout.write(y()),0;let r=new u({verbose:e.verbose});if(e.errors.length)return r.error(`${e.errors.join(`
`)}

${y()}`),2;for(let[i,c]of[["kubeconfig","MDCORE_KUBECONFIG"],["license-key","MDCORE_LICENSE_KEY"],["api-key","MDCORE_API_KEY"],["config-password","MDCORE_CONFIG_PASSWORD"]]){let a=process.env[c];a&&e.inputs[i]===void 0&&(e.inputs[i]=a)}let o=v(e.inputs);if(!o.ok)return r.error(h(o.errors)),2;let p=new AbortController,n=()=>p.abort();process.once("SIGINT",n),process.once("SIGTERM",n);let s=await f(o.plan,{reporter:r,tools:g(o.plan,r),signal:p.signal});return process.off("SIGINT",n),process.off("SIGTERM",n),r.info(""),r.info(b(s)),r.info(`outputs: ${Object.entries(E(s)).map(([i,c])=>`${i}=${c}`).join(" ")}`),s.result==="failed"||s.result==="rolled-back"?(r.error(S(s)),1):0}(import.meta.url===`file://${process.argv[1]}`||process.argv[1]?.endsWith("/cli.js"))&&R(process.argv.slice(2)).then(t=>process.exit(t),t=>{process.stderr.write(`Unexpected error: ${t instanceof Error?t.stack??t.message:String(t)}
`),process.exit(1)});export{R as main,I as parseArgs};
